// LidcReadMessage parsing with libxml2 (why libxml2: docs/annotations.md), element names matched by local name so the
// LIDC namespace (xmlns="http://www.nih.gov") or its absence both read.
#include "annotations/lidc_read.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string_view>
#include <sys/stat.h>

namespace meta_db::annotations {

namespace {

struct ParserContextFree {
  void operator()(xmlParserCtxt* context) const { xmlFreeParserCtxt(context); }
};
struct DocumentFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
struct XmlCharFree {
  void operator()(xmlChar* text) const { xmlFree(text); }
};

// libxml2 wants its global tables built once before parsers run on several threads.
void InitLibxml() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

bool Named(const xmlNode* node, std::string_view name) {
  return node->type == XML_ELEMENT_NODE && node->name != nullptr &&
         std::string_view(reinterpret_cast<const char*>(node->name)) == name;
}

std::string Text(const xmlNode* node) {
  std::unique_ptr<xmlChar, XmlCharFree> content(xmlNodeGetContent(node));
  if (!content) return {};
  std::string_view text(reinterpret_cast<const char*>(content.get()));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

const xmlNode* Child(const xmlNode* node, std::string_view name) {
  for (const xmlNode* child = node->children; child != nullptr; child = child->next) {
    if (Named(child, name)) return child;
  }
  return nullptr;
}

std::string ChildText(const xmlNode* node, std::string_view name) {
  const xmlNode* child = Child(node, name);
  return child == nullptr ? std::string() : Text(child);
}

std::optional<double> Number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<int> Integer(const std::string& text) {
  const auto value = Number(text);
  if (!value || *value != static_cast<double>(static_cast<long>(*value)) || std::abs(*value) > 1e6) return std::nullopt;
  return static_cast<int>(*value);
}

// An <edgeMap> or <locus>: integer pixel coordinates. Malformed points are an error of the file.
bool ReadPoint(const xmlNode* node, std::vector<std::pair<int, int>>& points) {
  const auto x = Integer(ChildText(node, "xCoord"));
  const auto y = Integer(ChildText(node, "yCoord"));
  if (!x || !y) return false;
  points.emplace_back(*x, *y);
  return true;
}

bool ReadRoi(const xmlNode* node, Roi& roi, std::string& error) {
  roi.sop_instance_uid = ChildText(node, "imageSOP_UID");
  roi.z_position = Number(ChildText(node, "imageZposition"));
  std::string inclusion = ChildText(node, "inclusion");
  for (char& c : inclusion) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  roi.inclusion = inclusion != "FALSE";
  for (const xmlNode* child = node->children; child != nullptr; child = child->next) {
    if ((Named(child, "edgeMap") || Named(child, "locus")) && !ReadPoint(child, roi.points)) {
      error = "an edgeMap point without integer xCoord/yCoord";
      return false;
    }
  }
  return true;
}

bool ReadCharacteristics(const xmlNode* node, std::array<int, 9>& ratings) {
  // The XML's camelCase names, in kRatingNames order.
  static constexpr std::array<const char*, 9> kXmlNames{"subtlety",   "internalStructure", "calcification",
                                                        "sphericity", "margin",            "lobulation",
                                                        "spiculation", "texture",          "malignancy"};
  bool any = false;
  for (std::size_t i = 0; i < kXmlNames.size(); ++i) {
    const auto value = Integer(ChildText(node, kXmlNames[i]));
    ratings[i] = value.value_or(0);
    any = any || value.has_value();
  }
  return any;
}

bool ReadSession(const xmlNode* session, int index, LidcRead& read, std::string& error) {
  const std::string radiologist = ChildText(session, "servicingRadiologistID");
  for (const xmlNode* node = session->children; node != nullptr; node = node->next) {
    if (Named(node, "unblindedReadNodule")) {
      Mark mark{.session = index, .radiologist_id = radiologist, .kind = MarkKind::kSmallNodule,
                .nodule_id = ChildText(node, "noduleID"), .ratings = std::nullopt, .rois = {}};
      if (const xmlNode* characteristics = Child(node, "characteristics")) {
        std::array<int, 9> ratings{};
        if (ReadCharacteristics(characteristics, ratings)) {
          mark.kind = MarkKind::kNodule;
          mark.ratings = ratings;
        }
      }
      for (const xmlNode* child = node->children; child != nullptr; child = child->next) {
        if (!Named(child, "roi")) continue;
        Roi roi;
        if (!ReadRoi(child, roi, error)) return false;
        mark.rois.push_back(std::move(roi));
      }
      read.marks.push_back(std::move(mark));
    } else if (Named(node, "nonNodule")) {
      Mark mark{.session = index, .radiologist_id = radiologist, .kind = MarkKind::kNonNodule,
                .nodule_id = ChildText(node, "nonNoduleID"), .ratings = std::nullopt, .rois = {}};
      Roi roi;
      if (!ReadRoi(node, roi, error)) return false;  // a nonNodule carries its slice and locus directly
      mark.rois.push_back(std::move(roi));
      read.marks.push_back(std::move(mark));
    }
  }
  return true;
}

// Skips a UTF-8 byte order mark, white space, the XML declaration, comments and processing instructions.
std::string_view AfterProlog(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  for (;;) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    std::string_view end_marker;
    if (text.starts_with("<?")) end_marker = "?>";
    else if (text.starts_with("<!--")) end_marker = "-->";
    else if (text.starts_with("<!DOCTYPE")) end_marker = ">";
    else return text;
    const auto end = text.find(end_marker);
    if (end == std::string_view::npos) return {};
    text.remove_prefix(end + end_marker.size());
  }
}

bool IsLidcRoot(std::string_view text) {
  text = AfterProlog(text);
  if (!text.starts_with('<')) return false;
  text.remove_prefix(1);
  if (const auto colon = text.find_first_of(": \t\r\n>/"); colon != std::string_view::npos && text[colon] == ':') {
    text.remove_prefix(colon + 1);  // a namespace prefix
  }
  if (!text.starts_with("LidcReadMessage")) return false;
  text.remove_prefix(std::strlen("LidcReadMessage"));
  return text.empty() || std::string_view(" \t\r\n>/").find(text.front()) != std::string_view::npos;
}

}  // namespace

std::string_view KindName(MarkKind kind) {
  switch (kind) {
    case MarkKind::kNodule: return "nodule";
    case MarkKind::kSmallNodule: return "small_nodule";
    case MarkKind::kNonNodule: return "non_nodule";
  }
  return "";
}

bool LooksLikeLidcRead(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[4096];
  in.read(head, sizeof head);
  return IsLidcRoot(std::string_view(head, static_cast<std::size_t>(in.gcount())));
}

ReadOutcome ReadLidcFile(const std::string& path) {
  ReadOutcome outcome;
  if (!LooksLikeLidcRead(path)) return outcome;
  outcome.is_lidc = true;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    outcome.error = "LIDC XML: cannot stat the file";
    return outcome;
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxLidcBytes) {
    outcome.error = "LIDC XML larger than " + std::to_string(kMaxLidcBytes >> 20) + " MiB: not read";
    return outcome;
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<std::size_t>(in.gcount()) != bytes.size()) {
    outcome.error = "LIDC XML: read failed";
    return outcome;
  }
  InitLibxml();
  std::unique_ptr<xmlParserCtxt, ParserContextFree> context(xmlNewParserCtxt());
  if (!context) {
    outcome.error = "LIDC XML: out of memory";
    return outcome;
  }
  // No network, no external DTD, no entity expansion (untrusted archive content); errors kept, not printed.
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  std::unique_ptr<xmlDoc, DocumentFree> doc(xmlCtxtReadMemory(context.get(), bytes.data(),
                                                               static_cast<int>(bytes.size()), nullptr, nullptr,
                                                               options));
  if (!doc || context->wellFormed == 0) {
    std::string message = context->lastError.message != nullptr ? context->lastError.message : "not well-formed";
    while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) message.pop_back();
    outcome.error = "malformed LIDC XML (line " + std::to_string(context->lastError.line) + "): " + message;
    return outcome;
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || !Named(root, "LidcReadMessage")) {
    outcome.is_lidc = false;
    return outcome;
  }
  LidcRead read;
  if (const xmlNode* header = Child(root, "ResponseHeader")) {
    read.series_instance_uid = ChildText(header, "SeriesInstanceUid");
    read.study_instance_uid = ChildText(header, "StudyInstanceUID");
  }
  if (read.series_instance_uid.empty()) {
    outcome.error = "LIDC XML without ResponseHeader/SeriesInstanceUid";
    return outcome;
  }
  for (const xmlNode* node = root->children; node != nullptr; node = node->next) {
    if (!Named(node, "readingSession")) continue;
    std::string error;
    if (!ReadSession(node, read.sessions, read, error)) {
      outcome.error = "LIDC XML readingSession " + std::to_string(read.sessions + 1) + ": " + error;
      return outcome;
    }
    ++read.sessions;
  }
  outcome.read = std::move(read);
  return outcome;
}

}  // namespace meta_db::annotations
