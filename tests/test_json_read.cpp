// Bounded JSON reading and regular-file checks (data/json_read.h, data/file_util.h): deep nesting refused
// before a deep tree exists, numbers beyond double range named by key, syntax errors with line and column,
// FIFOs, devices and directories refused without blocking, and the config reader's messages for the same.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>

#include "data/file_util.h"
#include "data/json_read.h"
#include "kernels/error.h"
#include "paradigms/json_fields.h"
#include "tests/data_test_util.h"

using namespace sp;
using namespace sp::data;

namespace {

std::string nested(int depth) { return std::string(size_t(depth), '[') + std::string(size_t(depth), ']'); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(JsonRead, DepthIsBounded) {
  EXPECT_NO_THROW(parse_json_text(nested(kMaxJsonDepth), "ok.json"));
  for (int depth : {kMaxJsonDepth + 1, 300000}) {
    const std::string msg = error_of([&] { parse_json_text(nested(depth), "deep.json"); });
    EXPECT_NE(msg.find("deep.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
    EXPECT_TRUE(parse_json_or_discarded(nested(depth)).is_discarded());
    EXPECT_TRUE(parse_ordered_json_or_discarded(nested(depth)).is_discarded());
  }
  JsonReadOptions shallow;
  shallow.max_depth = 2;
  EXPECT_NO_THROW(parse_json_text("{\"a\": [1]}", "x", shallow));
  EXPECT_THROW(parse_json_text("{\"a\": [[1]]}", "x", shallow), Error);
}

TEST(JsonRead, NumbersAndSyntaxErrorsNameTheirPlace) {
  std::string msg = error_of([] { parse_json_text("{\"seed\": 1e999}", "cfg.json"); });
  EXPECT_NE(msg.find("cfg.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'seed'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
  msg = error_of([] { parse_json_text("{\n  \"a\": 1,\n  \"b\": }", "bad.json"); });
  EXPECT_NE(msg.find("bad.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  msg = error_of([] { parse_json_text(std::string("{\"a\": \"\xff\"}"), "bytes.json"); });
  EXPECT_NE(msg.find("bytes.json"), std::string::npos) << msg;
  EXPECT_EQ(printable_text(msg), msg);  // the raw byte is escaped, so the message can be printed and stored
  // The library's exception tags ("[json.exception.parse_error.101]") are not passed on to the reader.
  for (const char* text : {"{\"seed\": 1e999}", "{\"a\": ]", "[1, 2"})
    EXPECT_EQ(error_of([&] { parse_json_text(text, "t.json"); }).find("json.exception"), std::string::npos) << text;
  try {
    (void)nlohmann::json::parse("{\"a\": ]");
  } catch (const nlohmann::json::exception& e) {
    EXPECT_EQ(json_error_text(e).rfind("syntax error", 0), 0u) << json_error_text(e);
  }
  EXPECT_TRUE(parse_json_or_discarded("{\"x\": 1e999}").is_discarded());
  EXPECT_TRUE(parse_json_or_discarded("{\"x\": ").is_discarded());
  EXPECT_EQ(parse_json_or_discarded("{\"x\": 2}")["x"], 2);
}

TEST(JsonRead, OnlyRegularFilesAreRead) {
  test::TempDir dir("json_read");
  write_file_atomic(dir / "a.json", std::string("{\"k\": [1, 2]}"));
  EXPECT_EQ(read_json_file(dir / "a.json")["k"][1], 2);
  ASSERT_EQ(mkfifo((dir / "fifo").c_str(), 0600), 0);
  std::string msg = error_of([&] { read_file_bytes(dir / "fifo"); });  // would block forever if opened plainly
  EXPECT_NE(msg.find("fifo"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a FIFO"), std::string::npos) << msg;
  EXPECT_THROW(require_regular_file(dir / "fifo"), Error);
  std::filesystem::create_symlink("/dev/zero", dir / "zero.json");  // would grow memory until bad_alloc
  msg = error_of([&] { read_json_file(dir / "zero.json"); });
  EXPECT_NE(msg.find("zero.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("character device"), std::string::npos) << msg;
  msg = error_of([&] { read_file_bytes(dir.path()); });
  EXPECT_NE(msg.find("a directory"), std::string::npos) << msg;
  msg = error_of([&] { read_file_bytes(dir / "missing.json"); });
  EXPECT_NE(msg.find("missing.json"), std::string::npos) << msg;
  EXPECT_NO_THROW(require_regular_file(dir / "a.json"));
}

TEST(JsonRead, ConfigReaderBoundsDepthAndNumbers) {
  cfg::Errors errors;
  cfg::parse_json("{\"paradigm\": \"baseline\", \"recipe\": {\"epochs\": 1e999}}", errors);
  std::string msg = error_of([&] { errors.throw_if_any("cfg.json"); });
  EXPECT_NE(msg.find("recipe.epochs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
  cfg::Errors deep;
  cfg::parse_json("{\"seed\": " + nested(300000) + "}", deep);
  msg = error_of([&] { deep.throw_if_any("cfg.json"); });
  EXPECT_NE(msg.find("seed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
}
