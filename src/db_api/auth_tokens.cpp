// Token secrets with libsodium: randombytes for secrets and salts, BLAKE2b (crypto_generichash) keyed by a per-token
// salt for the stored hash, sodium_memcmp for comparisons. Why not crypto_pwhash: docs/security.md, "Storage".
#include "db_api/auth_tokens.hpp"

#include "common/error.hpp"

#include <sodium.h>

#include <array>
#include <cctype>
#include <vector>

namespace meta_db::db_api {

namespace {

constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kSaltBytes = crypto_generichash_KEYBYTES;  // 32
constexpr std::size_t kHashBytes = crypto_generichash_BYTES;     // 32
constexpr std::string_view kPrefix = "mdb_";

void EnsureSodium() {
  // sodium_init is thread-safe and idempotent; -1 means the library cannot work (no entropy source).
  static const int ready = sodium_init();
  if (ready < 0) throw Error(Errc::kInternal, "libsodium could not be initialised");
}

std::string Hex(const unsigned char* bytes, std::size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, size);
  out.pop_back();
  return out;
}

std::optional<std::vector<unsigned char>> Unhex(std::string_view hex, std::size_t size) {
  if (hex.size() != size * 2) return std::nullopt;
  std::vector<unsigned char> out(size);
  std::size_t written = 0;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &written, nullptr) != 0 ||
      written != size) {
    return std::nullopt;
  }
  return out;
}

std::array<unsigned char, kHashBytes> KeyedHash(std::string_view secret, const unsigned char* salt) {
  std::array<unsigned char, kHashBytes> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     salt, kSaltBytes);
  return out;
}

bool IsLowerHex(std::string_view text) {
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

NewToken GenerateToken(std::string_view token_id) {
  EnsureSodium();
  std::array<unsigned char, kSecretBytes> secret{};
  std::array<unsigned char, kSaltBytes> salt{};
  randombytes_buf(secret.data(), secret.size());
  randombytes_buf(salt.data(), salt.size());
  const std::string secret_hex = Hex(secret.data(), secret.size());
  const auto hash = KeyedHash(secret_hex, salt.data());
  NewToken token{.token = std::string(kPrefix) + std::string(token_id) + "_" + secret_hex,
                 .token_id = std::string(token_id),
                 .salt = Hex(salt.data(), salt.size()),
                 .hash = Hex(hash.data(), hash.size())};
  sodium_memzero(secret.data(), secret.size());
  return token;
}

std::optional<ParsedToken> ParseToken(std::string_view token) {
  if (!token.starts_with(kPrefix)) return std::nullopt;
  token.remove_prefix(kPrefix.size());
  if (token.size() != 24 + 1 + kSecretBytes * 2 || token[24] != '_') return std::nullopt;
  const std::string_view id = token.substr(0, 24), secret = token.substr(25);
  if (!IsLowerHex(id) || !IsLowerHex(secret)) return std::nullopt;
  return ParsedToken{std::string(id), std::string(secret)};
}

bool VerifySecret(std::string_view secret, std::string_view salt_hex, std::string_view hash_hex) {
  EnsureSodium();
  const auto salt = Unhex(salt_hex, kSaltBytes);
  const auto stored = Unhex(hash_hex, kHashBytes);
  if (!salt || !stored) return false;
  const auto hash = KeyedHash(secret, salt->data());
  return sodium_memcmp(hash.data(), stored->data(), kHashBytes) == 0;
}

bool SameSecret(std::string_view presented, std::string_view expected) {
  EnsureSodium();
  // One random key per process: the digests are never stored, they only make the comparison length-independent.
  static const auto key = [] {
    std::array<unsigned char, kSaltBytes> k{};
    randombytes_buf(k.data(), k.size());
    return k;
  }();
  const auto a = KeyedHash(presented, key.data());
  const auto b = KeyedHash(expected, key.data());
  return sodium_memcmp(a.data(), b.data(), kHashBytes) == 0;
}

}  // namespace meta_db::db_api
