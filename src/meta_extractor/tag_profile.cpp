// Tag profile parsing: keywords resolved through DCMTK's data dictionary, "(gggg,eeee)" for any tag incl. private.
#include "meta_extractor/tag_profile.hpp"

#include <dcmtk/dcmdata/dcdicent.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dctag.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "common/error.hpp"
#include "default_profiles.hpp"
#include "meta_extractor/dicom_values.hpp"

namespace meta_db::extractor {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool ParseHex16(std::string_view s, std::uint16_t& out) {
  s = Trim(s);
  if (s.size() != 4) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Keyword → tag for the dictionary's non-repeating public entries, built in one pass: DCMTK's findTagFromName
// scans the whole dictionary per call, which made loading ~110 profile keywords take ~16 ms.
using KeywordMap = std::unordered_map<std::string, std::uint32_t>;

KeywordMap BuildKeywordMap() {
  KeywordMap map;
  // The iterators are only offered on the non-const dictionary, hence the (briefly held) write lock.
  DcmDataDictionary& dict = dcmDataDict.wrlock();
  for (DcmHashDictIterator it = dict.normalBegin(); it != dict.normalEnd(); ++it) {
    const DcmDictEntry* entry = *it;
    if (entry == nullptr || entry->getPrivateCreator() != nullptr || entry->getTagName() == nullptr) continue;
    map.emplace(entry->getTagName(), (static_cast<std::uint32_t>(entry->getGroup()) << 16) | entry->getElement());
  }
  dcmDataDict.wrunlock();
  return map;
}

// Parses one non-comment line; returns false with `why` set if it names no known tag.
bool ParseLine(std::string_view text, const KeywordMap& keywords, ProfileTag& out, std::string& why) {
  std::string_view body = text;
  if (body.front() == '(') {
    if (body.back() != ')') {
      why = "malformed tag '" + std::string(text) + "' (expected (gggg,eeee))";
      return false;
    }
    body = body.substr(1, body.size() - 2);
  }
  const std::size_t comma = body.find(',');
  if (comma != std::string_view::npos || text.front() == '(') {
    if (comma == std::string_view::npos || !ParseHex16(body.substr(0, comma), out.group) ||
        !ParseHex16(body.substr(comma + 1), out.element)) {
      why = "malformed tag '" + std::string(text) + "' (expected (gggg,eeee))";
      return false;
    }
    out.keyword = detail::TagKeyword(out.group, out.element);
    return true;
  }
  const std::string keyword(body);
  if (const auto it = keywords.find(keyword); it != keywords.end()) {
    out.group = static_cast<std::uint16_t>(it->second >> 16);
    out.element = static_cast<std::uint16_t>(it->second & 0xFFFF);
  } else {
    DcmTag tag;  // repeating-group entries (e.g. OverlayRows, 60xx) are not in the map
    if (DcmTag::findTagFromName(keyword.c_str(), tag).bad() || keyword.find_first_of(" \t") != std::string::npos) {
      why = "unknown DICOM keyword '" + keyword + "'";
      return false;
    }
    out.group = tag.getGroup();
    out.element = tag.getElement();
  }
  out.keyword = detail::TagKeyword(out.group, out.element);
  return true;
}

TagProfile ParseProfile(const std::string& text, const std::string& source, const KeywordMap& keywords) {
  TagProfile profile;
  std::istringstream in(text);
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    const std::size_t hash = line.find('#');
    const std::string_view body = Trim(std::string_view(line).substr(0, hash));
    if (body.empty()) continue;
    ProfileTag tag;
    std::string why;
    if (!ParseLine(body, keywords, tag, why)) {
      throw Error(Errc::kUnprocessable, source + ":" + std::to_string(line_no) + ": " + why);
    }
    bool duplicate = false;
    for (const ProfileTag& seen : profile.tags) {
      duplicate = duplicate || (seen.group == tag.group && seen.element == tag.element);
    }
    if (!duplicate) profile.tags.push_back(std::move(tag));
  }
  return profile;
}

TagProfile LoadLevel(const std::filesystem::path& dir, const char* file_name, const char* fallback,
                     const KeywordMap& keywords) {
  const std::filesystem::path file = dir / file_name;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return ParseProfile(fallback, std::string("default ") + file_name, keywords);
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(Errc::kUnprocessable, file.string() + ": cannot be read");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return ParseProfile(buffer.str(), file.string(), keywords);
}

}  // namespace

ProfileSet ProfileSet::Defaults() {
  const KeywordMap keywords = BuildKeywordMap();
  ProfileSet set;
  set.study = ParseProfile(defaults::kStudyProfile, "default study.txt", keywords);
  set.series = ParseProfile(defaults::kSeriesProfile, "default series.txt", keywords);
  set.instance = ParseProfile(defaults::kInstanceProfile, "default instance.txt", keywords);
  return set;
}

ProfileSet ProfileSet::Load(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error(Errc::kUnprocessable, "profile directory '" + dir.string() + "' is not a directory");
  }
  const KeywordMap keywords = BuildKeywordMap();
  ProfileSet set;
  set.study = LoadLevel(dir, "study.txt", defaults::kStudyProfile, keywords);
  set.series = LoadLevel(dir, "series.txt", defaults::kSeriesProfile, keywords);
  set.instance = LoadLevel(dir, "instance.txt", defaults::kInstanceProfile, keywords);
  return set;
}

}  // namespace meta_db::extractor
