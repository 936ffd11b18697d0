// API token secrets: generation, the keyed hash the store keeps instead of them, and constant-time checks (libsodium).
// A token reads "mdb_<token id: 24 hex>_<secret: 64 hex>"; the id finds the record, the secret is checked against
// the record's hash. Thread-safety: pure functions (libsodium is initialised once, thread-safely).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meta_db::db_api {

struct NewToken {
  std::string token;     // the whole token, shown to the admin once
  std::string token_id;  // 24 hex
  std::string salt;      // hex
  std::string hash;      // hex
};

// A fresh token with 256 random bits of secret, and what the store keeps of it.
NewToken GenerateToken(std::string_view token_id);

struct ParsedToken {
  std::string token_id;
  std::string secret;
};
// The parts of a presented token; nullopt when it does not have the token's shape.
std::optional<ParsedToken> ParseToken(std::string_view token);

// True when `secret` hashes to `hash` under `salt` (both hex as stored); compared in constant time.
bool VerifySecret(std::string_view secret, std::string_view salt_hex, std::string_view hash_hex);

// True when `presented` equals `expected`, in time independent of where they differ (both are hashed first, so
// their lengths leak nothing either).
bool SameSecret(std::string_view presented, std::string_view expected);

}  // namespace meta_db::db_api
