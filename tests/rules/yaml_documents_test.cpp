// Loading YAML with yaml-cpp, bounded against texts its parser never finishes.

#include "rules/yaml_documents.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include "rules/snapshot.h"

namespace kubenat {
namespace {

using ::testing::HasSubstr;

std::string load_error(std::string_view text) {
  try {
    (void)load_yaml_documents(text);
  } catch (const YAML::Exception& error) {
    return error.what();
  }
  return "";
}

TEST(LoadYamlDocuments, LoadsEveryDocument) {
  const auto documents = load_yaml_documents("a: 1\n---\n- x\n- y\n");
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_EQ(documents[0]["a"].as<int>(), 1);
  EXPECT_EQ(documents[1][1].as<std::string>(), "y");
}

TEST(LoadYamlDocuments, AFlowCollectionFollowedByACommaIsAnErrorInsteadOfALoop) {
  EXPECT_THAT(load_error("{a},"), HasSubstr("makes the YAML parser loop"));
  EXPECT_THAT(load_error("[a] ,"), HasSubstr("makes the YAML parser loop"));
}

TEST(LoadYamlDocuments, AQuotedScalarFollowedByACommaIsAnErrorInsteadOfALoop) {
  EXPECT_THAT(load_error("'a',"), HasSubstr("makes the YAML parser loop"));
  EXPECT_THAT(load_error("kind: List\n---\n\"a\",\n"), HasSubstr("makes the YAML parser loop"));
}

TEST(LoadYamlDocuments, SyntaxErrorsStayYamlCppsErrors) { EXPECT_THAT(load_error("[a]]"), HasSubstr("illegal flow end")); }

TEST(LoadYamlDocument, GivesTheFirstDocumentOrNull) {
  EXPECT_EQ(load_yaml_document("a: 1\n---\nb: 2\n")["a"].as<int>(), 1);
  EXPECT_TRUE(load_yaml_document("").IsNull());
}

TEST(LoadYamlDocuments, ASnapshotThatMadeThePlanHangIsRefused) {
  // Found by the snapshot fuzz target: `kubenat plan` never finished on it.
  auto snapshot = read_snapshot(R"({"apiVersion":"v1","kind":"List"},"items":[]})");
  ASSERT_FALSE(snapshot);
  EXPECT_THAT(snapshot.error(), HasSubstr("not JSON or YAML"));
}

}  // namespace
}  // namespace kubenat
