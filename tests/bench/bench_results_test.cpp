// A cell's result crosses a pipe as JSON: it must come back as it left, carry
// the summary a reader of bench.json wants, and refuse what it cannot read
// with an error naming the culprit.

#include "bench/bench_results.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace kubenat::bench {
namespace {

using ::testing::HasSubstr;

CellResult full_cell() {
  CellResult cell;
  cell.services = 10000;
  cell.backend = BenchBackend::Nftables;
  cell.figures[Figure::Compile] = FigureSamples{{12.5, 11.25, 13.0}, std::nullopt, ""};
  cell.figures[Figure::FullSync] = FigureSamples{{}, 60000.0, "timed out after 60s"};
  cell.figures[Figure::EndpointChange] = FigureSamples{{0.125, 0.5}, std::nullopt, "2 runs of 5"};
  cell.figures[Figure::ConnectLatency] = FigureSamples{{87.0}, std::nullopt, ""};
  cell.error = "data plane: namespace bench-1: setup failed";
  cell.connection_failures = 7;
  return cell;
}

// What the parent reads: the child's JSON, dumped to a line and parsed back.
nlohmann::json through_the_pipe(const CellResult& cell) { return nlohmann::json::parse(cell_to_json(cell).dump()); }

std::string parse_error(const nlohmann::json& json) {
  auto cell = cell_from_json(json);
  EXPECT_FALSE(cell.has_value());
  return cell ? std::string() : cell.error();
}

TEST(BenchResults, EveryFieldSurvivesARoundTrip) {
  const CellResult cell = full_cell();
  auto back = cell_from_json(through_the_pipe(cell));
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, cell);
}

TEST(BenchResults, SampleValuesComeBackExactly) {
  CellResult cell;
  cell.figures[Figure::PeakMemory] = FigureSamples{{0.1, 1.0 / 3.0, 123456789.987654321}, std::nullopt, ""};
  auto back = cell_from_json(through_the_pipe(cell));
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(back->figures.at(Figure::PeakMemory).values, cell.figures.at(Figure::PeakMemory).values);
}

TEST(BenchResults, AtLeastAndNoteComeBackForAFigureWithoutValues) {
  CellResult cell;
  cell.figures[Figure::FullSync] = FigureSamples{{}, 60000.0, "still running after 60s"};
  auto back = cell_from_json(through_the_pipe(cell));
  ASSERT_TRUE(back.has_value()) << back.error();
  const FigureSamples& samples = back->figures.at(Figure::FullSync);
  EXPECT_TRUE(samples.values.empty());
  EXPECT_EQ(samples.at_least, 60000.0);
  EXPECT_EQ(samples.note, "still running after 60s");
}

TEST(BenchResults, ACellWithoutErrorComesBackWithoutError) {
  CellResult cell = full_cell();
  cell.error.reset();
  auto back = cell_from_json(through_the_pipe(cell));
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_FALSE(back->error.has_value());
}

TEST(BenchResults, ErrorAndConnectionFailuresComeBack) {
  const CellResult cell = full_cell();
  auto back = cell_from_json(through_the_pipe(cell));
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(back->error, "data plane: namespace bench-1: setup failed");
  EXPECT_EQ(back->connection_failures, 7);
}

TEST(BenchResults, EveryBackendComesBack) {
  for (BenchBackend backend : kAllBenchBackends) {
    CellResult cell;
    cell.backend = backend;
    auto back = cell_from_json(through_the_pipe(cell));
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(back->backend, backend) << backend_name(backend);
  }
}

TEST(BenchResults, EveryFigureComesBack) {
  CellResult cell;
  double value = 1;
  for (const FigureInfo& info : all_figures()) cell.figures[info.figure] = FigureSamples{{value++}, std::nullopt, ""};
  auto back = cell_from_json(through_the_pipe(cell));
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(back->figures, cell.figures);
}

TEST(BenchResults, JsonNamesTheBackendAndFiguresByTheirKeys) {
  const nlohmann::json json = cell_to_json(full_cell());
  EXPECT_EQ(json.at("backend"), "nftables");
  EXPECT_EQ(json.at("services"), 10000);
  EXPECT_TRUE(json.at("figures").contains("compile_ms"));
  EXPECT_TRUE(json.at("figures").contains("full_sync_ms"));
  EXPECT_TRUE(json.at("figures").contains("connect_latency_us"));
}

TEST(BenchResults, JsonCarriesTheSummaryOfAFigureWithValues) {
  CellResult cell;
  cell.figures[Figure::Compile] = FigureSamples{{4, 1, 3, 2}, std::nullopt, ""};
  const nlohmann::json entry = cell_to_json(cell).at("figures").at("compile_ms");
  EXPECT_EQ(entry.at("median"), 2.5);
  EXPECT_EQ(entry.at("min"), 1.0);
  EXPECT_EQ(entry.at("max"), 4.0);
  EXPECT_EQ(entry.at("p99"), 4.0);
  EXPECT_EQ(entry.at("samples"), nlohmann::json({4.0, 1.0, 3.0, 2.0}));
}

TEST(BenchResults, JsonHasNoSummaryForAFigureWithoutValues) {
  CellResult cell;
  cell.figures[Figure::FullSync] = FigureSamples{{}, 60000.0, "timed out"};
  const nlohmann::json entry = cell_to_json(cell).at("figures").at("full_sync_ms");
  EXPECT_FALSE(entry.contains("median"));
  EXPECT_FALSE(entry.contains("p99"));
  EXPECT_EQ(entry.at("at_least"), 60000.0);
  EXPECT_EQ(entry.at("note"), "timed out");
}

TEST(BenchResults, JsonErrorIsNullWithoutError) {
  CellResult cell;
  EXPECT_TRUE(cell_to_json(cell).at("error").is_null());
}

TEST(BenchResults, MissingServicesIsAnErrorNamingIt) {
  nlohmann::json json = cell_to_json(full_cell());
  json.erase("services");
  EXPECT_THAT(parse_error(json), HasSubstr("services"));
}

TEST(BenchResults, MissingBackendIsAnErrorNamingIt) {
  nlohmann::json json = cell_to_json(full_cell());
  json.erase("backend");
  EXPECT_THAT(parse_error(json), HasSubstr("backend"));
}

TEST(BenchResults, MissingFiguresIsAnErrorNamingIt) {
  nlohmann::json json = cell_to_json(full_cell());
  json.erase("figures");
  EXPECT_THAT(parse_error(json), HasSubstr("figures"));
}

TEST(BenchResults, AFigureWithoutSamplesIsAnErrorNamingSamples) {
  nlohmann::json json = cell_to_json(full_cell());
  json["figures"]["compile_ms"].erase("samples");
  EXPECT_THAT(parse_error(json), HasSubstr("samples"));
}

TEST(BenchResults, ServicesOfTheWrongTypeIsAnError) {
  nlohmann::json json = cell_to_json(full_cell());
  json["services"] = "many";
  EXPECT_THAT(parse_error(json), HasSubstr("malformed cell result"));
}

TEST(BenchResults, ANonObjectIsAnErrorNotAnException) {
  EXPECT_THAT(parse_error(nlohmann::json::array({1, 2})), HasSubstr("malformed cell result"));
}

TEST(BenchResults, UnknownBackendIsAnErrorNamingIt) {
  nlohmann::json json = cell_to_json(full_cell());
  json["backend"] = "ipvs";
  const std::string error = parse_error(json);
  EXPECT_THAT(error, HasSubstr("unknown backend"));
  EXPECT_THAT(error, HasSubstr("ipvs"));
}

TEST(BenchResults, MissingConnectionFailuresAndErrorDefault) {
  nlohmann::json json = cell_to_json(full_cell());
  json.erase("connection_failures");
  json.erase("error");
  auto cell = cell_from_json(json);
  ASSERT_TRUE(cell.has_value()) << cell.error();
  EXPECT_EQ(cell->connection_failures, 0);
  EXPECT_FALSE(cell->error.has_value());
}

TEST(BenchResults, AllFiguresKeysAreUnique) {
  std::set<std::string_view> keys;
  for (const FigureInfo& info : all_figures()) {
    EXPECT_TRUE(keys.insert(info.key).second) << "duplicate key " << info.key;
  }
}

TEST(BenchResults, AllFiguresListsEveryFigureOnce) {
  std::set<Figure> figures;
  for (const FigureInfo& info : all_figures()) {
    EXPECT_TRUE(figures.insert(info.figure).second) << info.key;
  }
  EXPECT_EQ(figures.size(), static_cast<std::size_t>(Figure::ConnectionsPerSecond) + 1);
}

TEST(BenchResults, FigureInfoFindsEachFiguresOwnEntry) {
  for (const FigureInfo& info : all_figures()) EXPECT_EQ(figure_info(info.figure).key, info.key);
}

}  // namespace
}  // namespace kubenat::bench
