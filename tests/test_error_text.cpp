// sp::Error messages are always printable UTF-8 (kernels/error.h): valid text unchanged, raw bytes, broken
// or overlong sequences, surrogates and control characters escaped as \xNN, so a message quoting a corrupt
// file can be printed and stored in JSON (nlohmann's dump throws on invalid UTF-8).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/error.h"

using sp::Error;
using sp::printable_text;

TEST(ErrorText, ValidTextIsUnchanged) {
  for (std::string s : {"", "plain ascii", "multi\nline\twith tab", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"})
    EXPECT_EQ(printable_text(s), s);
}

TEST(ErrorText, EscapesWhatIsNotPrintableUtf8) {
  EXPECT_EQ(printable_text(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable_text("\x1b[31mred"), "\\x1b[31mred");          // terminal escape
  EXPECT_EQ(printable_text("x\x7f"), "x\\x7f");                       // DEL
  EXPECT_EQ(printable_text("\xc2\x85"), "\\xc2\\x85");                // C1 control U+0085
  EXPECT_EQ(printable_text("\xff\xfe"), "\\xff\\xfe");                // never valid
  EXPECT_EQ(printable_text("\xc3"), "\\xc3");                         // truncated at the end
  EXPECT_EQ(printable_text("\xc3(x"), "\\xc3(x");                     // bad continuation
  EXPECT_EQ(printable_text("\xc0\xaf"), "\\xc0\\xaf");                // overlong '/'
  EXPECT_EQ(printable_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");       // surrogate U+D800
  EXPECT_EQ(printable_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
}

TEST(ErrorText, EveryErrorMessageCanBeStoredInJson) {
  std::string raw;
  for (int b = 0; b < 256; ++b) raw += char(b);
  try {
    SP_FAIL("header of 'x.npy' reads '", raw, "'");
  } catch (const Error& e) {
    nlohmann::json j = {{"error", e.what()}};
    EXPECT_NO_THROW(j.dump());
    EXPECT_EQ(printable_text(e.what()), e.what());
  }
  EXPECT_EQ(std::string(Error("\xff").what()), "\\xff");
}
