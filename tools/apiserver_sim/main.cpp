// kubenat-apiserver-sim: the in-memory Kubernetes API server
// (tools/apiserver_sim/apiserver_sim.h) as a program, for demos, benchmarks
// and tests that run it as a separate process.

#include <signal.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "tools/apiserver_sim/apiserver_sim.h"
#include "tools/kubenat/flags.h"

namespace {

using namespace kubenat::apiserver_sim;
using std::chrono::milliseconds;

constexpr const char* kName = "kubenat-apiserver-sim";

// "250ms", "2s", "5m", "1h", "1m30s", or a bare number of milliseconds; "0" is off.
std::expected<milliseconds, std::string> parse_duration(const std::string& text) {
  if (text.empty()) return std::unexpected("empty duration");
  long long bare = 0;
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bare);
      ec == std::errc() && end == text.data() + text.size()) {
    return milliseconds(bare);
  }
  milliseconds total{0};
  std::size_t i = 0;
  while (i < text.size()) {
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), value);
    if (ec != std::errc()) return std::unexpected("bad duration \"" + text + "\"");
    i = static_cast<std::size_t>(end - text.data());
    std::size_t unit_end = i;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) ++unit_end;
    const std::string unit = text.substr(i, unit_end - i);
    if (unit == "ms") {
      total += milliseconds(value);
    } else if (unit == "s") {
      total += std::chrono::seconds(value);
    } else if (unit == "m") {
      total += std::chrono::minutes(value);
    } else if (unit == "h") {
      total += std::chrono::hours(value);
    } else {
      return std::unexpected("bad duration \"" + text + "\" (units: ms, s, m, h)");
    }
    i = unit_end;
  }
  return total;
}

// "127.0.0.1:8080", "[::1]:0", ":8080" (all addresses).
std::expected<std::pair<std::string, std::uint16_t>, std::string> parse_listen(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return std::unexpected("--listen: expects HOST:PORT, got \"" + text + "\"");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  unsigned port = 0;
  const std::string port_text = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return std::unexpected("--listen: bad port \"" + port_text + "\"");
  }
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

// "30000-32767": kube-apiserver's --service-node-port-range.
std::expected<NodePortRange, std::string> parse_node_port_range(const std::string& text) {
  const auto fail = [&] {
    return std::unexpected("--service-node-port-range: expects FIRST-LAST within 1-65535, got \"" + text + "\"");
  };
  const std::size_t dash = text.find('-');
  if (dash == std::string::npos) return fail();
  NodePortRange range;
  const char* const end = text.data() + text.size();
  auto first = std::from_chars(text.data(), text.data() + dash, range.first);
  auto last = std::from_chars(text.data() + dash + 1, end, range.last);
  if (first.ec != std::errc() || first.ptr != text.data() + dash || last.ec != std::errc() || last.ptr != end ||
      range.first < 1 || range.last > 65535 || range.first > range.last) {
    return fail();
  }
  return range;
}

const char* kUsage =
    "usage: kubenat-apiserver-sim [flags]\n"
    "\n"
    "An in-memory Kubernetes API server for tests, demos and benchmarks. It serves\n"
    "discovery and Services, Endpoints, Nodes, Namespaces (v1) and EndpointSlices\n"
    "(discovery.k8s.io/v1): list with label and field selectors and limit/continue\n"
    "pagination, get, create, update, patch (merge, strategic merge, JSON patch,\n"
    "apply), delete, and watch with resourceVersion resumption, bookmarks and 410\n"
    "Gone once the event window has moved on. Services get a ClusterIP from\n"
    "10.96.0.0/12 and NodePorts from --service-node-port-range; namespaces are created\n"
    "on first use.\n"
    "\n"
    "kubectl works against it: get (tables, -o json/yaml, -w), create -f, apply\n"
    "(client- and server-side), label, annotate, patch, delete, and the generators\n"
    "create service / create namespace. There is no OpenAPI schema: kubectl explain\n"
    "finds nothing, validation is left to the server.\n"
    "\n"
    "It prints \"listening on URL\" on stdout once it serves, and runs until SIGINT\n"
    "or SIGTERM.\n"
    "\n"
    "Faults can be injected while it runs with POST /sim/faults and a JSON object\n"
    "(every key optional):\n"
    "  {\"drop_watches\": true}              reset every open watch connection\n"
    "  {\"garbage\": {\"close\": false}}       open watches send a non-JSON and a truncated line\n"
    "  {\"restart\": {\"jump\": 1000000}}      forget events, jump resourceVersion, drop watches\n"
    "  {\"compact\": true}                   forget events: resuming from older versions gets 410\n"
    "  {\"outage_ms\": 3000}                 refuse connections and cut all for that long\n"
    "  {\"delay_ms\": 200, \"watch_garbage_every\": 50, \"garbage_closes\": true}\n"
    "                                      persistent settings (0 turns them off)\n"
    "GET /sim/faults shows the persistent settings; GET /sim/stats counts requests,\n"
    "LISTs and WATCHes per resource, 410s and open watches (DELETE resets it);\n"
    "POST /sim/seed takes a List like --snapshot.\n"
    "\n"
    "Durations: 250ms, 2s, 5m, 1h, or a number of milliseconds.\n"
    "\n"
    "example:\n"
    "  kubenat-apiserver-sim --listen 127.0.0.1:6443 --snapshot tools/examples/cluster.json \\\n"
    "      --kubeconfig-out /tmp/sim.kubeconfig &\n"
    "  kubectl --kubeconfig /tmp/sim.kubeconfig get services -A -w\n"
    "  curl -d '{\"drop_watches\": true}' http://127.0.0.1:6443/sim/faults\n"
    "\n"
    "flags:\n";

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  bool tls = false;
  std::string token;
  std::vector<std::string> snapshots;
  std::string kubeconfig_out;
  int history = 10000;
  std::string history_age = "0";
  std::string bookmark_interval = "1s";
  std::string watch_timeout = "0";
  std::string kubernetes_version = "v1.32.0";
  std::string node_port_range = "30000-32767";
  std::string delay = "0";
  int watch_garbage_every = 0;
  bool garbage_closes = false;
  std::string drop_watches_every = "0";
  std::string restart_every = "0";
  bool help = false;

  kubenat::FlagSet flags(kName);
  flags.add_string("listen", &listen, "HOST:PORT to serve on; port 0 picks a free one (default 127.0.0.1:0)");
  flags.add_bool("tls", &tls, "serve HTTPS with a CA and certificate generated at start (in the kubeconfig)");
  flags.add_string("token", &token, "require \"Authorization: Bearer TOKEN\" on API requests");
  flags.add_list("snapshot", &snapshots,
                 "seed objects from a JSON or YAML file (a v1 List, as `kubectl get ... -o json` prints)");
  flags.add_string("kubeconfig-out", &kubeconfig_out, "write a kubeconfig for this server to PATH");
  flags.add_int("history", &history, "events kept for watch resumption (default 10000)");
  flags.add_string("history-age", &history_age, "also forget events older than this (default 0: no age limit)");
  flags.add_string("bookmark-interval", &bookmark_interval, "BOOKMARK period for watches that allow them (default 1s)");
  flags.add_string("watch-timeout", &watch_timeout, "end watches without timeoutSeconds after this (default 0: never)");
  flags.add_string("kubernetes-version", &kubernetes_version, "the version /version reports (default v1.32.0)");
  flags.add_string("service-node-port-range", &node_port_range,
                   "NodePorts allocated and accepted, as kube-apiserver's flag (default 30000-32767)");
  flags.add_string("delay", &delay, "fault: answer every API request this much later");
  flags.add_int("watch-garbage-every", &watch_garbage_every, "fault: garbage lines on watches after every N events");
  flags.add_bool("garbage-closes", &garbage_closes, "fault: a watch ends after its garbage");
  flags.add_string("drop-watches-every", &drop_watches_every, "fault: reset all watch connections periodically");
  flags.add_string("restart-every", &restart_every, "fault: simulate a restart with compaction periodically");
  flags.add_bool("help", &help, "show this help");

  const std::vector<std::string> args(argv + 1, argv + argc);
  auto positional = flags.parse(args);
  if (!positional) {
    std::cerr << positional.error() << "\n";
    return 2;
  }
  if (help) {
    std::cout << kUsage << flags.usage();
    return 0;
  }
  if (!positional->empty()) {
    std::cerr << kName << ": unexpected argument \"" << positional->front() << "\"\n";
    return 2;
  }

  Options options;
  auto address = parse_listen(listen);
  if (!address) {
    std::cerr << kName << ": " << address.error() << "\n";
    return 2;
  }
  options.host = address->first;
  options.port = address->second;
  options.tls = tls;
  options.token = token;
  options.kubernetes_version = kubernetes_version;
  auto range = parse_node_port_range(node_port_range);
  if (!range) {
    std::cerr << kName << ": " << range.error() << "\n";
    return 2;
  }
  options.node_port_range = *range;
  if (history < 0) {
    std::cerr << kName << ": --history must not be negative\n";
    return 2;
  }
  options.history_limit = static_cast<std::size_t>(history);
  options.faults.watch_garbage_every = watch_garbage_every;
  options.faults.garbage_closes = garbage_closes;
  milliseconds drop_period{0};
  milliseconds restart_period{0};
  for (auto [flag, text, target] : std::initializer_list<std::tuple<const char*, std::string*, milliseconds*>>{
           {"history-age", &history_age, &options.history_age},
           {"bookmark-interval", &bookmark_interval, &options.bookmark_interval},
           {"watch-timeout", &watch_timeout, &options.watch_timeout},
           {"delay", &delay, &options.faults.delay},
           {"drop-watches-every", &drop_watches_every, &drop_period},
           {"restart-every", &restart_every, &restart_period}}) {
    auto parsed = parse_duration(*text);
    if (!parsed) {
      std::cerr << kName << ": --" << flag << ": " << parsed.error() << "\n";
      return 2;
    }
    *target = *parsed;
  }

  // Block the stop signals before any thread starts, so that they all
  // inherit the mask and only sigtimedwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error value, not a death

  auto sim = ApiServerSim::start(options);
  if (!sim) {
    std::cerr << kName << ": " << sim.error() << "\n";
    return 1;
  }
  for (const std::string& path : snapshots) {
    auto stored = (*sim)->seed_file(path);
    if (!stored) {
      std::cerr << kName << ": --snapshot " << stored.error() << "\n";
      return 1;
    }
    std::cerr << kName << ": seeded " << *stored << " objects from " << path << "\n";
  }
  if (!kubeconfig_out.empty()) {
    if (auto written = (*sim)->write_kubeconfig(kubeconfig_out); !written) {
      std::cerr << kName << ": " << written.error() << "\n";
      return 1;
    }
    std::cerr << kName << ": kubeconfig written to " << kubeconfig_out << "\n";
  }
  std::cout << "listening on " << (*sim)->url() << std::endl;

  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto next_drop = started + drop_period;
  auto next_restart = started + restart_period;
  while (true) {
    const timespec tick{0, 100 * 1000 * 1000};
    const int signal_number = sigtimedwait(&stop_signals, nullptr, &tick);
    if (signal_number == SIGINT || signal_number == SIGTERM) break;
    const auto now = Clock::now();
    if (drop_period.count() > 0 && now >= next_drop) {
      (*sim)->drop_watches();
      next_drop = now + drop_period;
    }
    if (restart_period.count() > 0 && now >= next_restart) {
      (*sim)->restart();
      next_restart = now + restart_period;
    }
  }
  (*sim)->stop();
  return 0;
}
