// Environment switches (kernels/env_flag.h): the accepted spellings, the default for unset and empty
// variables, and the error for anything else, which must name the variable and its value.
#include <gtest/gtest.h>

#include <cstdlib>

#include "kernels/env_flag.h"
#include "kernels/error.h"

namespace sp {
namespace {

TEST(EnvFlag, ParsesEverySpellingInAnyCase) {
  for (const char* t : {"1", "on", "ON", "true", "True", "yes", "YES"}) EXPECT_EQ(parse_switch(t), true) << t;
  for (const char* t : {"0", "off", "Off", "false", "FALSE", "no", "No"}) EXPECT_EQ(parse_switch(t), false) << t;
  for (const char* t : {"", "2", "enable", "of", " 1", "1 ", "tru", "-1"}) EXPECT_FALSE(parse_switch(t)) << '"' << t << '"';
}

TEST(EnvFlag, UnsetAndEmptyGiveTheDefault) {
  const char* name = "SP_TEST_ENV_SWITCH_UNSET";
  unsetenv(name);
  EXPECT_TRUE(env_switch(name, true));
  EXPECT_FALSE(env_switch(name, false));
  setenv(name, "", 1);
  EXPECT_TRUE(env_switch(name, true));
  EXPECT_FALSE(env_switch(name, false));
  unsetenv(name);
}

TEST(EnvFlag, SetValuesOverrideTheDefault) {
  const char* name = "SP_TEST_ENV_SWITCH_SET";
  setenv(name, "off", 1);
  EXPECT_FALSE(env_switch(name, true));
  setenv(name, "Yes", 1);
  EXPECT_TRUE(env_switch(name, false));
  unsetenv(name);
}

TEST(EnvFlag, AnythingElseIsAnErrorNamingTheVariable) {
  const char* name = "SP_TEST_ENV_SWITCH_BAD";
  setenv(name, "sometimes", 1);
  try {
    env_switch(name, false);
    FAIL() << "no error for a value that is not a switch";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(name), std::string::npos) << m;
    EXPECT_NE(m.find("sometimes"), std::string::npos) << m;
  }
  unsetenv(name);
}

}  // namespace
}  // namespace sp
