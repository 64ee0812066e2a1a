// The soak's random changes, made through an in-process API server
// simulator: every kind happens, the simulator accepts them all, and the
// cluster keeps its size.

#include "bench/cluster_churn.h"

#include <gtest/gtest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "rules/encode.h"
#include "rules/snapshot.h"

namespace kubenat::bench {
namespace {

using apiserver_sim::ApiServerSim;

constexpr int kServices = 60;

SyntheticSpec small_cluster() {
  SyntheticSpec spec;
  spec.services = kServices;
  spec.endpoints_per_service = 10;
  spec.nodes = 5;
  spec.node_port_share = 0.1;
  spec.load_balancer_share = 0.05;
  spec.affinity_share = 0.05;
  return spec;
}

std::unique_ptr<ApiServerSim> seeded_simulator(const SyntheticSpec& spec) {
  auto sim = ApiServerSim::start(apiserver_sim::Options{});
  EXPECT_TRUE(sim) << sim.error();
  if (!sim) return nullptr;
  auto seeded = (*sim)->seed(encode_cluster(make_synthetic_cluster(spec)));
  EXPECT_TRUE(seeded) << seeded.error();
  return std::move(*sim);
}

std::size_t count_of(const ApiServerSim& sim, const std::string& resource) {
  auto list = sim.list(resource);
  return list ? (*list)["items"].size() : 0;
}

class ClusterChurnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = seeded_simulator(small_cluster());
    ASSERT_NE(sim_, nullptr);
  }
  std::unique_ptr<ApiServerSim> sim_;
};

TEST_F(ClusterChurnTest, MakesEveryKindOfChangeAndTheSimulatorAcceptsThemAll) {
  ClusterChurn churn(*sim_, small_cluster(), "node-0", 7);
  for (int i = 0; i < 2000; ++i) {
    auto made = churn.change();
    ASSERT_TRUE(made) << made.error();
  }
  EXPECT_EQ(churn.counts().total(), 2000u);
  EXPECT_EQ(churn.counts().refused, 0u) << churn.counts().first_refusal;
  for (ChangeKind kind : kAllChangeKinds) {
    EXPECT_GT(churn.counts().by_kind.count(kind), 0u) << change_kind_name(kind);
  }
}

TEST_F(ClusterChurnTest, MostChangesAreToEndpointsThenServicesThenNodes) {
  ClusterChurn churn(*sim_, small_cluster(), "node-0", 1);
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(churn.change());
  const ChurnCounts& c = churn.counts();
  EXPECT_NEAR(static_cast<double>(c.endpoints()) / 2000, 0.78, 0.05);
  EXPECT_NEAR(static_cast<double>(c.services()) / 2000, 0.20, 0.05);
  EXPECT_NEAR(static_cast<double>(c.nodes()) / 2000, 0.02, 0.015);
}

TEST_F(ClusterChurnTest, AMixWithoutNodesChangesOnlyEndpointsAndServicesInItsShares) {
  ClusterChurn churn(*sim_, small_cluster(), "node-0", 1, ChurnMix{.endpoints = 80, .services = 20});
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(churn.change());
  const ChurnCounts& c = churn.counts();
  EXPECT_EQ(c.nodes(), 0u);
  EXPECT_NEAR(static_cast<double>(c.endpoints()) / 2000, 0.80, 0.05);
}

TEST_F(ClusterChurnTest, ANewServiceComesAfterTheClustersOwnWithItsSliceAndLaterChangesMayPickIt) {
  ClusterChurn churn(*sim_, small_cluster(), "node-0", 1);
  auto added = churn.add_new_service();
  ASSERT_TRUE(added) << added.error();
  EXPECT_EQ(*added, synthetic_service_name(kServices));
  EXPECT_EQ(count_of(*sim_, "services"), static_cast<std::size_t>(kServices + 1));
  EXPECT_EQ(count_of(*sim_, "endpointslices"), static_cast<std::size_t>(kServices + 1));
  EXPECT_EQ(churn.counts().by_kind.at(ChangeKind::ServiceCreated), 1u);
  auto next = churn.add_new_service();
  ASSERT_TRUE(next) << next.error();
  EXPECT_EQ(*next, synthetic_service_name(kServices + 1));
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(churn.change());
  EXPECT_EQ(churn.counts().refused, 0u) << churn.counts().first_refusal;
}

TEST_F(ClusterChurnTest, KeepsAtLeastNineTenthsOfTheServicesEachWithItsSlice) {
  ClusterChurn churn(*sim_, small_cluster(), "node-0", 3);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(churn.change());
    if (i % 100 != 99) continue;
    const std::size_t services = count_of(*sim_, "services");
    EXPECT_GE(services, static_cast<std::size_t>(kServices - kServices / 10));
    EXPECT_LE(services, static_cast<std::size_t>(kServices));
    EXPECT_EQ(count_of(*sim_, "endpointslices"), services);
  }
}

TEST_F(ClusterChurnTest, TheObjectsStayValidForKubenat) {
  ClusterChurn churn(*sim_, small_cluster(), "node-0", 5);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(churn.change());
  nlohmann::json all = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", nlohmann::json::array()}};
  for (const char* resource : {"services", "endpointslices", "nodes"}) {
    auto list = sim_->list(resource);
    ASSERT_TRUE(list);
    for (nlohmann::json item : (*list)["items"]) {
      item["kind"] = (*list)["kind"].get<std::string>().substr(0, (*list)["kind"].get<std::string>().size() - 4);
      item["apiVersion"] = (*list)["apiVersion"];
      all["items"].push_back(item);
    }
  }
  auto decoded = read_snapshot(all.dump());
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_TRUE(decoded->diagnostics.empty()) << decoded->diagnostics.front().to_string();
  for (const auto& [service, slices] : decoded->state.slices) {
    for (const auto& [name, slice] : slices) EXPECT_LE(slice.endpoints.size(), 60u) << name;
  }
}

TEST_F(ClusterChurnTest, TheSameSeedMakesTheSameChanges) {
  auto other = seeded_simulator(small_cluster());
  ASSERT_NE(other, nullptr);
  ClusterChurn first(*sim_, small_cluster(), "node-0", 11);
  ClusterChurn second(*other, small_cluster(), "node-0", 11);
  for (int i = 0; i < 300; ++i) {
    auto a = first.change();
    auto b = second.change();
    ASSERT_TRUE(a && b);
    ASSERT_EQ(*a, *b) << "change " << i;
  }
}

}  // namespace
}  // namespace kubenat::bench
