#include <gtest/gtest.h>

#include "kun/apps/text/tokenizer.h"
#include "kun/apps/text/unicode.h"

using namespace kun::text;

TEST(TextUnicode, DecodeValidAndInvalid) {
  int len;
  EXPECT_EQ(decode_utf8("A", 0, &len), U'A');
  EXPECT_EQ(len, 1);
  EXPECT_EQ(decode_utf8("\xC3\xA9", 0, &len), U'\u00E9');
  EXPECT_EQ(len, 2);
  EXPECT_EQ(decode_utf8("\xF0\x9F\x99\x82", 0, &len), U'\U0001F642');
  EXPECT_EQ(len, 4);
  // Each invalid form: U+FFFD consuming exactly one byte.
  for (const char* bad : {"\x80", "\xC3", "\xC0\x80", "\xED\xA0\x80", "\xF5\x80\x80\x80", "\xE2\x82", "\xFF"}) {
    EXPECT_EQ(decode_utf8(bad, 0, &len), kReplacementChar) << bad;
    EXPECT_EQ(len, 1);
  }
  EXPECT_FALSE(is_valid_utf8("ok\xC3("));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xEF\xBF\xBD"));  // a real U+FFFD is valid
  EXPECT_EQ(sanitize_utf8("a\xFF" "b\xE2\x82"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(u32_to_utf8(utf8_to_u32("h\xC3\xA9llo \xF0\x9F\x99\x82")), "h\xC3\xA9llo \xF0\x9F\x99\x82");
}

TEST(TextUnicode, LowerCaseTables) {
  EXPECT_EQ(to_lower("HELLO World"), "hello world");
  EXPECT_EQ(to_lower("ÀÉÎÕÜÞ ÇÑ"), "àéîõüþ çñ");        // Latin-1 Supplement
  EXPECT_EQ(to_lower("ĀĂĄŁŽŒƑǄ"), "āăąłžœƒǆ");            // Latin Extended-A/B
  EXPECT_EQ(to_lower("ΑΒΓΔ ΣΩ Ά"), "αβγδ σω ά");          // Greek
  EXPECT_EQ(to_lower("ПРИВЕТ Ёж ЄЇ"), "привет ёж єї");    // Cyrillic
  EXPECT_EQ(to_lower("ＡＢＣ"), "ａｂｃ");                   // full width
  EXPECT_EQ(to_lower("straße ß 123 日本"), "straße ß 123 日本");  // no mapping: unchanged
  EXPECT_EQ(to_lower(U'\u1E9E'), U'\u00DF');              // capital sharp s
  EXPECT_EQ(to_lower("A\xFF"), "a\xEF\xBF\xBD");
}

TEST(TextUnicode, Classes) {
  EXPECT_TRUE(is_letter(U'é'));
  EXPECT_TRUE(is_letter(U'ж'));
  EXPECT_TRUE(is_letter(U'日'));
  EXPECT_FALSE(is_letter(U'1'));
  EXPECT_FALSE(is_letter(U'\u0301'));  // combining mark is not a letter
  EXPECT_TRUE(is_number(U'٣'));
  EXPECT_TRUE(is_number(U'½'));
  EXPECT_TRUE(is_number(U'Ⅻ'));
  EXPECT_TRUE(is_space(U'\u00A0'));
  EXPECT_TRUE(is_space(U'\u3000'));
  EXPECT_FALSE(is_space(U'\u200B'));   // zero-width space is not White_Space
  EXPECT_FALSE(is_space(0x1C));        // as the regex module's \s
  EXPECT_TRUE(is_punctuation(U'!'));
  EXPECT_TRUE(is_punctuation(U'\u2014'));
  EXPECT_FALSE(is_punctuation(U'a'));
}

TEST(TextUnicode, Normalize) {
  EXPECT_EQ(strip_html("Good.<br /><br />Bad</i> a < b"), "Good.  Bad  a < b");
  EXPECT_EQ(normalize("Great FILM!<br />Très bien", {}), "great film! très bien");
  EXPECT_EQ(normalize("Great, film!", {.punctuation = Punctuation::remove}), "great  film ");
  EXPECT_EQ(normalize("Great, film!", {.punctuation = Punctuation::split}), "great ,  film ! ");
  EXPECT_EQ(normalize("A<b>B", {.lower = false, .strip_html = false}), "A<b>B");
  EXPECT_EQ(normalize("", {}), "");
  EXPECT_EQ(normalize("\xC3", {}), "\xEF\xBF\xBD");
}
