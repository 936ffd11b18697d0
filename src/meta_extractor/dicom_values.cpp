// DCMTK element → typed JSON: numbers for numeric VRs, arrays for multi-valued, strings trimmed, SQ to depth 3.
#include "meta_extractor/dicom_values.hpp"

#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcspchrs.h>
#include <dcmtk/dcmdata/dctag.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "meta_extractor/iso2022.hpp"

namespace meta_db::extractor::detail {
namespace {

namespace json = boost::json;

std::string_view TrimSpaces(std::string_view s) {
  // PS3.5 6.2: values are padded with trailing spaces (UI with a trailing NUL); leading spaces are insignificant
  // for most VRs. DCMTK's normalisation already strips them; this also handles stray NULs.
  while (!s.empty() && (s.front() == ' ' || s.front() == '\0')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.remove_suffix(1);
  return s;
}

// IS (PS3.5 6.2): optional leading '+' or '-', up to 12 characters; falls back to the string when malformed.
json::value IntegerString(std::string_view text) {
  std::string_view s = TrimSpaces(text);
  std::string_view digits = (!s.empty() && s.front() == '+') ? s.substr(1) : s;
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (!digits.empty() && ec == std::errc() && ptr == digits.data() + digits.size()) return value;
  return json::string(ValidUtf8(std::string(s)));
}

// DS (PS3.5 6.2): a decimal string; stays a string if it is not a finite number (so nothing is lost).
json::value DecimalString(std::string_view text) {
  std::string_view s = TrimSpaces(text);
  std::string_view digits = (!s.empty() && s.front() == '+') ? s.substr(1) : s;
  double value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (!digits.empty() && ec == std::errc() && ptr == digits.data() + digits.size() && std::isfinite(value)) {
    return value;
  }
  return json::string(ValidUtf8(std::string(s)));
}

json::value Float(double value) {
  if (std::isfinite(value)) return value;
  return std::isnan(value) ? json::value("NaN") : json::value(value > 0 ? "Infinity" : "-Infinity");
}

// One value at `pos` read by DCMTK's getter for its type, as JSON by `to_json`; nullopt when it cannot be read.
template <typename T, typename ToJson>
std::optional<json::value> ReadNumber(DcmElement& el, OFCondition (DcmElement::*get)(T&, unsigned long),
                                      unsigned long pos, ToJson to_json) {
  T v{};
  if ((el.*get)(v, pos).bad()) return std::nullopt;
  return json::value(to_json(v));
}

// One value at `pos` of a binary numeric VR; nullopt when DCMTK cannot read it.
std::optional<json::value> BinaryNumber(DcmElement& el, DcmEVR vr, unsigned long pos) {
  const auto as_is = [](auto v) { return v; };
  switch (vr) {
    case EVR_US: return ReadNumber(el, &DcmElement::getUint16, pos, as_is);
    case EVR_SS: return ReadNumber(el, &DcmElement::getSint16, pos, as_is);
    case EVR_UL: return ReadNumber(el, &DcmElement::getUint32, pos, as_is);
    case EVR_SL: return ReadNumber(el, &DcmElement::getSint32, pos, as_is);
    case EVR_UV: return ReadNumber(el, &DcmElement::getUint64, pos, [](Uint64 v) { return std::uint64_t{v}; });
    case EVR_SV: return ReadNumber(el, &DcmElement::getSint64, pos, [](Sint64 v) { return std::int64_t{v}; });
    case EVR_FL: return ReadNumber(el, &DcmElement::getFloat32, pos, [](Float32 v) { return Float(v); });
    case EVR_FD: return ReadNumber(el, &DcmElement::getFloat64, pos, [](Float64 v) { return Float(v); });
    default: return std::nullopt;
  }
}

bool IsBinaryNumber(DcmEVR vr) {
  return vr == EVR_US || vr == EVR_SS || vr == EVR_UL || vr == EVR_SL || vr == EVR_UV || vr == EVR_SV || vr == EVR_FL ||
         vr == EVR_FD;
}

// Bulk binary VRs (PS3.5 6.2) and anything DCMTK could not classify carry no searchable metadata.
bool IsOmitted(DcmEVR vr) {
  switch (vr) {
    case EVR_OB:
    case EVR_OW:
    case EVR_OF:
    case EVR_OD:
    case EVR_OL:
    case EVR_OV:
    case EVR_UN:
    case EVR_ox:
    case EVR_px:
    case EVR_xs:
    case EVR_lt:
    case EVR_na:
    case EVR_up:
    case EVR_item:
    case EVR_metainfo:
    case EVR_dataset:
    case EVR_fileFormat:
    case EVR_dicomDir:
    case EVR_dirRecord:
    case EVR_pixelSQ:
    case EVR_pixelItem:
    case EVR_UNKNOWN:
    case EVR_UNKNOWN2B:
      return true;
    default:
      return false;
  }
}

std::optional<json::value> SequenceToJson(DcmSequenceOfItems& seq, int depth, TextDecoder& decoder) {
  if (depth >= kMaxSequenceDepth) return std::nullopt;
  json::array items;
  // nextInContainer walks DCMTK's linked lists in O(1) per step (getItem(i)/getElement(i) would be O(i)).
  for (DcmObject* it = seq.nextInContainer(nullptr); it != nullptr; it = seq.nextInContainer(it)) {
    auto* item = static_cast<DcmItem*>(it);
    json::object obj;
    for (DcmObject* c = item->nextInContainer(nullptr); c != nullptr; c = item->nextInContainer(c)) {
      auto* child = static_cast<DcmElement*>(c);
      std::optional<json::value> v = ElementToJson(*child, depth + 1, decoder);
      if (v) obj[TagKeyword(child->getGTag(), child->getETag())] = std::move(*v);
    }
    items.push_back(std::move(obj));
  }
  return items;
}

std::optional<json::value> TextValue(DcmElement& el, DcmEVR vr, unsigned long pos, TextDecoder& decoder) {
  OFString text;
  if (el.getOFString(text, pos, OFTrue).bad()) return std::nullopt;
  return TextComponentToJson(std::string_view(text.c_str(), text.length()), vr, decoder);
}

bool NeedsDecoding(const std::string& raw) {
  for (const char c : raw) {
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\x1B') return true;
  }
  return false;
}

}  // namespace

json::value TextComponentToJson(std::string_view component, int vr, TextDecoder& decoder) {
  if (vr == EVR_IS) return IntegerString(component);
  if (vr == EVR_DS) return DecimalString(component);
  std::string value(TrimSpaces(component));
  if (IsCharsetVr(vr)) value = decoder.Decode(std::move(value), vr == EVR_PN);
  // PS3.5 6.2.1.1: trailing empty component groups of a PN may be omitted; "A^B=" and "A^B" are the same name.
  if (vr == EVR_PN) {
    while (!value.empty() && value.back() == '=') value.pop_back();
  }
  return json::value(json::string(ValidUtf8(std::move(value))));
}

json::value FloatToJson(double value) { return Float(value); }

std::string TagKeyword(std::uint16_t group, std::uint16_t element) {
  char hex[10];
  std::snprintf(hex, sizeof hex, "%04x,%04x", group, element);
  if (group % 2 == 1) return hex;  // private (PS3.5 7.8): meaning depends on the private creator
  DcmTag tag(group, element);
  const char* name = tag.getTagName();
  if (name == nullptr || std::string_view(name) == DcmTag_ERROR_TagName) return hex;
  return name;
}

bool IsCharsetVr(int vr) {
  return vr == EVR_SH || vr == EVR_LO || vr == EVR_ST || vr == EVR_LT || vr == EVR_UC || vr == EVR_UT || vr == EVR_PN;
}

TextDecoder::TextDecoder(std::string specific_character_set) : charset_(std::move(specific_character_set)) {}
TextDecoder::~TextDecoder() = default;

std::string TextDecoder::Decode(std::string raw, bool person_name) {
  if (!NeedsDecoding(raw)) return raw;
  // No declared charset means the default repertoire (PS3.5 6.1.2.2), but many writers put Latin-1 there
  // anyway; decode invalid UTF-8 as ISO_IR 100 as pydicom and most viewers do.
  std::string charset = charset_;
  if (charset.empty() || charset == "ISO_IR 6") {
    if (ValidUtf8(raw) == raw) return raw;
    charset = "ISO_IR 100";
  }
  if (charset == "ISO_IR 192") return raw;
  if (!converter_ && !failed_) {
    converter_ = std::make_unique<DcmSpecificCharacterSet>();
    failed_ = converter_->selectCharacterSet(charset.c_str()).bad();
  }
  OFString out;
  if (!failed_ &&
      converter_->convertString(OFString(raw.data(), raw.size()), out, person_name ? "\\^=" : "\\").good()) {
    return std::string(out.c_str(), out.length());
  }
  // glibc's iconv lacks the Japanese ISO 2022 sets DCMTK asks for (IR 87/159/13): decode those ourselves.
  if (std::optional<std::string> decoded = DecodeIso2022(raw, charset, person_name)) return std::move(*decoded);
  return raw;  // ValidUtf8() later replaces whatever is not UTF-8
}

std::optional<json::value> ElementToJson(DcmElement& element, int depth, TextDecoder& decoder) {
  const DcmEVR vr = element.ident();
  if (vr == EVR_SQ) return SequenceToJson(static_cast<DcmSequenceOfItems&>(element), depth, decoder);
  if (IsOmitted(vr)) return std::nullopt;
  if (element.getLength() == 0) return json::value(nullptr);
  if (!element.valueLoaded()) return std::nullopt;  // longer than we read; never loaded (see extractor.cpp)
  // LT/ST/UT/UR/UC-like VRs have VM 1 by definition; backslashes in them are text, not separators.
  const unsigned long vm = element.getVM();
  if (vm == 0) return json::value(nullptr);
  const bool numeric = IsBinaryNumber(vr);
  if (vm == 1) return numeric ? BinaryNumber(element, vr, 0) : TextValue(element, vr, 0, decoder);
  json::array values;
  values.reserve(vm);
  for (unsigned long pos = 0; pos < vm; ++pos) {
    std::optional<json::value> v = numeric ? BinaryNumber(element, vr, pos) : TextValue(element, vr, pos, decoder);
    if (!v) return std::nullopt;
    values.push_back(std::move(*v));
  }
  return values;
}

std::string ValidUtf8(std::string text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  auto cont = [&](std::size_t k) { return k < n && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80; };
  std::string out;
  bool changed = false;
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    if (c < 0x80)
      len = 1;
    else if (c >= 0xC2 && c <= 0xDF && cont(i + 1))
      len = 2;
    else if (c >= 0xE0 && c <= 0xEF && cont(i + 1) && cont(i + 2))
      len = 3;
    else if (c >= 0xF0 && c <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3))
      len = 4;
    if (len == 0) {
      if (!changed) out.assign(text, 0, i);
      changed = true;
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
      continue;
    }
    if (changed) out.append(text, i, len);
    i += len;
  }
  return changed ? out : text;
}

}  // namespace meta_db::extractor::detail
