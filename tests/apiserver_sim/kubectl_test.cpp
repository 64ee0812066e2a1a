// The real kubectl against the simulator: proof that discovery, server-side
// printing (Tables), field validation, watches, TLS and tokens are close
// enough to a real API server for the tool everyone uses. Skipped when
// kubectl is not installed, except in CI (CI=true), where that fails.
//
// Also the kubenat-apiserver-sim program itself: --help, the "listening on"
// line, --kubeconfig-out and --snapshot.

#include <stdlib.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine/process.h"
#include "tests/apiserver_sim/sim_fixture.h"

namespace kubenat::apiserver_sim::testing {
namespace {

using ::testing::HasSubstr;

std::optional<std::string> find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// A directory removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kubenat-sim-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name, const std::string& text) const {
    const std::string full = path_ + "/" + name;
    std::ofstream(full) << text;
    return full;
  }

 private:
  std::string path_;
};

const char* kServiceYaml = R"(apiVersion: v1
kind: Service
metadata:
  name: NAME
  namespace: team-a
  labels:
    app: NAME
spec:
  type: NodePort
  selector:
    app: NAME
  ports:
  - name: http
    port: 80
    targetPort: 8080
)";

std::string service_yaml(const std::string& name) {
  std::string text = kServiceYaml;
  for (std::size_t at; (at = text.find("NAME")) != std::string::npos;) text.replace(at, 4, name);
  return text;
}

class KubectlTest : public SimTest {
 protected:
  void SetUp() override {
    auto found = find_in_path("kubectl");
    if (!found) {
      if (in_ci()) FAIL() << "kubectl is not installed (CI=true: the kubectl tests must run)";
      GTEST_SKIP() << "kubectl is not installed";
    }
    kubectl_ = *found;
    ASSERT_FALSE(dir_.path().empty());
    SimTest::SetUp();
  }

  void use_kubeconfig() {
    kubeconfig_ = dir_.path() + "/kubeconfig";
    auto written = sim_->write_kubeconfig(kubeconfig_);
    ASSERT_TRUE(written) << written.error();
  }

  // kubectl with this test's kubeconfig and its own discovery cache.
  ProcessResult kubectl(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::vector<std::string> argv = {kubectl_, "--kubeconfig", kubeconfig_, "--cache-dir", dir_.path() + "/cache"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    options.timeout = timeout;
    auto result = run_process(argv, options);
    if (!result) {
      ADD_FAILURE() << result.error();
      return ProcessResult{255, "", result.error()};
    }
    return *result;
  }

  std::string kubectl_;
  TempDir dir_;
  std::string kubeconfig_;
};

TEST_F(KubectlTest, CreateGetListWatchAndDelete) {
  use_kubeconfig();
  const std::string manifest = dir_.file("web.yaml", service_yaml("web"));

  // No --validate=false needed: the server advertises fieldValidation.
  ProcessResult created = kubectl({"create", "-f", manifest});
  ASSERT_TRUE(created.ok()) << created.err;
  EXPECT_THAT(created.out, HasSubstr("service/web created"));
  auto stored = sim_->get("services", "team-a", "web");
  ASSERT_TRUE(stored);
  const std::string cluster_ip = (*stored)["spec"]["clusterIP"];

  ProcessResult listed = kubectl({"get", "services", "-A", "-o", "json"});
  ASSERT_TRUE(listed.ok()) << listed.err;
  json list = json::parse(listed.out);
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["metadata"]["name"], "web");
  EXPECT_EQ(list["items"][0]["spec"]["clusterIP"], cluster_ip);

  // The server-side Table: kubectl's usual columns.
  ProcessResult one = kubectl({"get", "svc", "web", "-n", "team-a"});
  ASSERT_TRUE(one.ok()) << one.err;
  EXPECT_THAT(one.out, HasSubstr("CLUSTER-IP"));
  EXPECT_THAT(one.out, HasSubstr(cluster_ip));
  EXPECT_THAT(one.out, HasSubstr("NodePort"));

  // A watch: kubectl's own request timeout ends it.
  ProcessResult watched;
  std::thread watcher([&] { watched = kubectl({"get", "services", "-A", "-w", "--request-timeout=5s"}); });
  wait_for_watches(1);
  ProcessResult second = kubectl({"create", "-f", dir_.file("watched.yaml", service_yaml("watched"))});
  EXPECT_TRUE(second.ok()) << second.err;
  watcher.join();
  EXPECT_THAT(watched.out, HasSubstr("web"));
  EXPECT_THAT(watched.out, HasSubstr("watched"));

  ProcessResult deleted = kubectl({"delete", "service", "web", "-n", "team-a"});
  ASSERT_TRUE(deleted.ok()) << deleted.err;
  EXPECT_THAT(deleted.out, HasSubstr("deleted"));
  EXPECT_FALSE(sim_->get("services", "team-a", "web"));

  ProcessResult missing = kubectl({"get", "svc", "web", "-n", "team-a"});
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.err, HasSubstr("NotFound"));
}

TEST_F(KubectlTest, ApplyLabelAndPatch) {
  use_kubeconfig();
  const std::string manifest = dir_.file("web.yaml", service_yaml("web"));
  ProcessResult applied = kubectl({"apply", "-f", manifest});
  ASSERT_TRUE(applied.ok()) << applied.err;
  EXPECT_THAT(applied.out, HasSubstr("created"));
  ProcessResult again = kubectl({"apply", "-f", manifest});
  ASSERT_TRUE(again.ok()) << again.err;
  EXPECT_THAT(again.out, HasSubstr("unchanged"));

  std::string changed = service_yaml("web");
  changed.replace(changed.find("port: 80"), 8, "port: 81");
  ProcessResult reapplied = kubectl({"apply", "-f", dir_.file("web2.yaml", changed)});
  ASSERT_TRUE(reapplied.ok()) << reapplied.err;
  auto stored = sim_->get("services", "team-a", "web");
  ASSERT_TRUE(stored);
  ASSERT_EQ((*stored)["spec"]["ports"].size(), 1u);
  EXPECT_EQ((*stored)["spec"]["ports"][0]["port"], 81);

  ASSERT_TRUE(kubectl({"label", "service", "web", "-n", "team-a", "tier=front"}).ok());
  ASSERT_TRUE(kubectl({"patch", "service", "web", "-n", "team-a", "--type=merge", "-p",
                       R"({"spec":{"sessionAffinity":"ClientIP"}})"})
                  .ok());
  ProcessResult selected = kubectl({"get", "services", "-A", "-l", "tier=front", "-o", "name"});
  ASSERT_TRUE(selected.ok()) << selected.err;
  EXPECT_EQ(selected.out, "service/web\n");
  stored = sim_->get("services", "team-a", "web");
  EXPECT_EQ((*stored)["spec"]["sessionAffinity"], "ClientIP");
}

TEST_F(KubectlTest, GeneratorCommandsThatSendProtobuf) {
  use_kubeconfig();
  ProcessResult created_namespace = kubectl({"create", "namespace", "team-b"});
  ASSERT_TRUE(created_namespace.ok()) << created_namespace.err;
  ProcessResult created = kubectl({"create", "service", "nodeport", "gen", "-n", "team-b", "--tcp=80:8080"});
  ASSERT_TRUE(created.ok()) << created.err;
  EXPECT_THAT(created.out, HasSubstr("service/gen created"));
  auto stored = sim_->get("services", "team-b", "gen");
  ASSERT_TRUE(stored);
  EXPECT_EQ((*stored)["spec"]["type"], "NodePort");
  EXPECT_EQ((*stored)["spec"]["ports"][0]["targetPort"], 8080);
  EXPECT_TRUE((*stored)["spec"]["ports"][0]["nodePort"].is_number_integer());
}

TEST_F(KubectlTest, GetsEveryServedKind) {
  use_kubeconfig();
  auto seeded = sim_->seed_file(std::string(KUBENAT_SOURCE_DIR) + "/tools/examples/cluster.json");
  ASSERT_TRUE(seeded) << seeded.error();
  ProcessResult all = kubectl({"get", "services,endpointslices,nodes,namespaces", "-A"});
  ASSERT_TRUE(all.ok()) << all.err;
  EXPECT_THAT(all.out, HasSubstr("service/kubernetes"));
  EXPECT_THAT(all.out, HasSubstr("endpointslice.discovery.k8s.io/"));
  EXPECT_THAT(all.out, HasSubstr("node/"));
  EXPECT_THAT(all.out, HasSubstr("namespace/kube-system"));
  ProcessResult yaml = kubectl({"get", "endpointslices", "-A", "-l", "kubernetes.io/service-name=kube-dns", "-o", "yaml"});
  ASSERT_TRUE(yaml.ok()) << yaml.err;
  EXPECT_THAT(yaml.out, HasSubstr("kind: EndpointSlice"));
}

TEST_F(KubectlTest, TlsAndToken) {
  Options options;
  options.tls = true;
  options.token = "s3cret-token";
  start(options);
  use_kubeconfig();
  EXPECT_TRUE(sim_->url().starts_with("https://"));
  ProcessResult namespaces = kubectl({"get", "namespaces", "-o", "name"});
  ASSERT_TRUE(namespaces.ok()) << namespaces.err;
  EXPECT_THAT(namespaces.out, HasSubstr("namespace/default"));
  ProcessResult wrong = kubectl({"--token", "wrong", "get", "namespaces"});
  EXPECT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.err, HasSubstr("Unauthorized"));
}

// --- The program ----------------------------------------------------------

TEST(ApiServerSimProgram, HelpDescribesTheFlagsAndFaults) {
  auto result = run_process({KUBENAT_APISERVER_SIM_BINARY, "--help"});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->exit_status, 0);
  EXPECT_THAT(result->out, HasSubstr("--listen"));
  EXPECT_THAT(result->out, HasSubstr("--snapshot"));
  EXPECT_THAT(result->out, HasSubstr("/sim/faults"));
  auto bad = run_process({KUBENAT_APISERVER_SIM_BINARY, "--no-such-flag"});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->exit_status, 2);
}

TEST(ApiServerSimProgram, AMalformedNodePortRangeIsRefusedByName) {
  for (const char* range : {"32767-30000", "30000", "0-100", "30000-70000", "a-b"}) {
    auto result = run_process({KUBENAT_APISERVER_SIM_BINARY, "--service-node-port-range", range});
    ASSERT_TRUE(result) << result.error();
    EXPECT_EQ(result->exit_status, 2) << range;
    EXPECT_THAT(result->err, HasSubstr("--service-node-port-range")) << range;
  }
}

TEST(ApiServerSimProgram, PrintsItsUrlAndServesTheSnapshot) {
  TempDir dir;
  const std::string kubeconfig = dir.path() + "/kubeconfig";
  // The shell reads the first line, queries the server, then stops it.
  const std::string script =
      std::string(KUBENAT_APISERVER_SIM_BINARY) + " --listen 127.0.0.1:0 --kubeconfig-out " + kubeconfig +
      " --snapshot " + KUBENAT_SOURCE_DIR + "/tools/examples/cluster.json > " + dir.path() +
      "/out & pid=$!; for i in $(seq 100); do [ -s " + dir.path() + "/out ] && break; sleep 0.05; done; "
      "cat " + dir.path() + "/out; kill $pid; wait $pid";
  auto result = run_process({"sh", "-c", script});
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->exit_status, 0) << result->err;
  ASSERT_TRUE(result->out.starts_with("listening on http://127.0.0.1:")) << result->out;
  EXPECT_THAT(result->err, HasSubstr("seeded"));
  const std::string first_line = result->out.substr(0, result->out.find('\n'));
  const std::string url = first_line.substr(std::string("listening on ").size());
  std::ifstream in(kubeconfig);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("server: " + url + "\n"));
}

}  // namespace
}  // namespace kubenat::apiserver_sim::testing
