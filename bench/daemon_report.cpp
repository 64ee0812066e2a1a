#include "bench/daemon_report.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/bench_report.h"
#include "engine/daemon/duration.h"

namespace kubenat::bench {
namespace {

using nlohmann::json;

std::string seconds_text(double s) { return format_figure(s) + " s"; }
std::string ms_text(double s) { return format_figure(s * 1000) + " ms"; }

// "1,000", "100,000".
std::string grouped(long value) {
  std::string digits = std::to_string(value);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(static_cast<std::size_t>(at), ",");
  return digits;
}

std::string percent(double share) {
  char text[16];
  std::snprintf(text, sizeof text, "%g %%", share * 100);
  return text;
}

std::string go_duration(std::chrono::milliseconds duration) {
  return format_duration(std::chrono::duration_cast<std::chrono::nanoseconds>(duration));
}

std::string memory_text(const ProcessMemory& m) {
  if (m.rss_mib == 0) return "-";
  return format_figure(m.rss_mib) + " / " + format_figure(m.hwm_mib) + " MiB";
}

std::string percentiles_text(const LatencySummary& l) {
  if (l.applied == 0) return "-";
  return format_figure(l.p50 * 1000) + " / " + format_figure(l.p90 * 1000) + " / " + format_figure(l.p99 * 1000) +
         " ms";
}

json memory_to_json(const ProcessMemory& m) {
  return {{"rss_mib", m.rss_mib}, {"hwm_mib", m.hwm_mib}, {"rss_anon_mib", m.rss_anon_mib}, {"threads", m.threads}};
}

json latency_to_json(const LatencySummary& l) {
  return {{"changes", l.changes}, {"applied", l.applied},          {"ambiguous", l.ambiguous}, {"p50_seconds", l.p50},
          {"p90_seconds", l.p90}, {"p99_seconds", l.p99},          {"max_seconds", l.max},     {"mean_seconds", l.mean},
          {"syncs", l.syncs},     {"span_seconds", l.span_seconds}};
}

json phase_to_json(const DaemonPhase& p) {
  json changes = {{"total", p.changes.total()}, {"refused", p.changes.refused}};
  for (ChangeKind kind : kAllChangeKinds) {
    auto it = p.changes.by_kind.find(kind);
    if (it != p.changes.by_kind.end()) changes[std::string(change_kind_name(kind))] = it->second;
  }
  return {{"ran", p.ran},
          {"changes", changes},
          {"seconds", p.seconds},
          {"latency", latency_to_json(p.latency)},
          {"endpoint_latency", latency_to_json(p.endpoint_latency)},
          {"service_latency", latency_to_json(p.service_latency)},
          {"syncs", p.syncs},
          {"cpu_seconds", p.cpu_seconds},
          {"cpu_ms_per_change", p.cpu_ms_per_change()},
          {"daemon_programming_count", p.daemon_programming_count},
          {"daemon_programming_mean_seconds", p.daemon_programming_mean},
          {"memory_after", memory_to_json(p.memory_after)}};
}

json optional_json(const std::optional<double>& value) { return value ? json(*value) : json(); }

bool plotted(const DaemonRun& r) { return r.cold_start_seconds > 0; }

// The backends with a run to plot, in the order asked for: gnuplot's
// indexes in the data file.
std::vector<BenchBackend> plotted_backends(const DaemonReport& report) {
  std::vector<BenchBackend> backends;
  for (BenchBackend backend : report.options.backends) {
    for (const DaemonRun& r : report.runs) {
      if (r.backend == backend && plotted(r)) {
        backends.push_back(backend);
        break;
      }
    }
  }
  return backends;
}

}  // namespace

double DaemonPhase::cpu_ms_per_change() const {
  const std::uint64_t made = changes.total();
  return made == 0 ? 0 : cpu_seconds * 1000 / static_cast<double>(made);
}

std::string render_daemon_table(const DaemonReport& report) {
  const BenchOptions& o = report.options;
  const DaemonScenarioOptions& d = o.daemon;
  std::ostringstream out;
  out << "kubenat bench --scenario daemon, " << report.machine.date << ", " << report.machine.summary() << "\n";
  out << "services x " << o.endpoints << " endpoints; NodePort " << percent(o.node_port_share) << ", LoadBalancer "
      << percent(o.load_balancer_share) << ", affinity " << percent(o.affinity_share) << ", Local "
      << percent(o.local_share) << "; seed " << o.seed << "\n";
  out << "steady: " << format_figure(d.changes_per_second)
      << " changes per second (80 % EndpointSlices, 20 % Services) "
      << "for " << go_duration(d.steady_duration) << " after " << go_duration(d.steady_warm_up)
      << " of them untimed; burst: ";
  if (d.burst_services == 0) {
    out << "none\n";
  } else {
    out << d.burst_services << " new Services within " << go_duration(d.burst_window) << "\n";
  }
  out << "latency: from just before the API write to the end of the daemon's sync that applied it (its log)\n";

  const std::vector<DaemonRun>& runs = report.runs;
  out << "\n|  |";
  for (const DaemonRun& r : runs) out << " " << backend_name(r.backend) << " " << grouped(r.services) << " |";
  out << "\n|---|";
  for (std::size_t i = 0; i < runs.size(); ++i) out << "---:|";
  out << "\n";
  auto row = [&](const std::string& title, const std::function<std::string(const DaemonRun&)>& cell) {
    out << "| " << title << " |";
    for (const DaemonRun& r : runs) out << " " << cell(r) << " |";
    out << "\n";
  };
  auto optional_seconds = [](const std::optional<double>& s) { return s ? seconds_text(*s) : std::string("-"); };
  row("cold start: process start to first full sync", [](const DaemonRun& r) {
    return r.cold_start_seconds > 0 ? seconds_text(r.cold_start_seconds) : std::string("-");
  });
  row("- start-up: flags, Node, servers, watches started",
      [&](const DaemonRun& r) { return optional_seconds(r.startup_seconds); });
  row("- lists: watches started to first sync's start",
      [&](const DaemonRun& r) { return optional_seconds(r.list_seconds); });
  row("- first full sync: compile and apply", [](const DaemonRun& r) {
    return r.first_sync_seconds > 0 ? seconds_text(r.first_sync_seconds) : std::string("-");
  });
  row("- - of which compile / apply", [](const DaemonRun& r) {
    if (!r.first_sync_compile_seconds) return std::string("-");
    return seconds_text(*r.first_sync_compile_seconds) + " / " +
           seconds_text(r.first_sync_seconds - *r.first_sync_compile_seconds);
  });
  row("cold start CPU", [](const DaemonRun& r) { return seconds_text(r.cold_start_cpu_seconds); });
  row("RSS / VmHWM after the first sync", [](const DaemonRun& r) { return memory_text(r.after_first_sync); });
  row("steady: changes made", [](const DaemonRun& r) {
    if (!r.steady.ran) return std::string("-");
    return std::to_string(r.steady.changes.total()) + " in " + seconds_text(r.steady.seconds);
  });
  row("steady: latency p50 / p90 / p99", [](const DaemonRun& r) { return percentiles_text(r.steady.latency); });
  row("steady: latency max; mean (the daemon's metric's mean)", [](const DaemonRun& r) {
    const DaemonPhase& p = r.steady;
    if (p.latency.applied == 0) return std::string("-");
    return ms_text(p.latency.max) + "; " + ms_text(p.latency.mean) + " (" +
           (p.daemon_programming_count == 0 ? std::string("-") : ms_text(p.daemon_programming_mean)) + ")";
  });
  row("steady: EndpointSlice changes p50 / p99", [](const DaemonRun& r) {
    const LatencySummary& l = r.steady.endpoint_latency;
    return l.applied == 0 ? std::string("-")
                          : format_figure(l.p50 * 1000) + " / " + format_figure(l.p99 * 1000) + " ms";
  });
  row("steady: Service changes p50 / p99", [](const DaemonRun& r) {
    const LatencySummary& l = r.steady.service_latency;
    return l.applied == 0 ? std::string("-")
                          : format_figure(l.p50 * 1000) + " / " + format_figure(l.p99 * 1000) + " ms";
  });
  row("steady: syncs", [](const DaemonRun& r) { return r.steady.ran ? std::to_string(r.steady.syncs) : "-"; });
  row("steady: CPU per change", [](const DaemonRun& r) {
    return r.steady.ran ? ms_text(r.steady.cpu_ms_per_change() / 1000) : std::string("-");
  });
  row("burst: Services created", [](const DaemonRun& r) {
    if (!r.burst.ran) return std::string("-");
    return std::to_string(r.burst.changes.total()) + " in " + seconds_text(r.burst.seconds);
  });
  row("burst: syncs that applied it", [](const DaemonRun& r) {
    return r.burst.latency.applied == 0 ? std::string("-") : std::to_string(r.burst.latency.syncs);
  });
  row("burst: latency p50 / p90 / p99", [](const DaemonRun& r) { return percentiles_text(r.burst.latency); });
  row("burst: first creation to last applied", [](const DaemonRun& r) {
    return r.burst.latency.applied == 0 ? std::string("-") : seconds_text(r.burst.latency.span_seconds);
  });
  row("burst: CPU per Service",
      [](const DaemonRun& r) { return r.burst.ran ? ms_text(r.burst.cpu_ms_per_change() / 1000) : std::string("-"); });
  row("RSS / VmHWM after the changes",
      [](const DaemonRun& r) { return memory_text(r.burst.ran ? r.burst.memory_after : r.steady.memory_after); });
  row("machine load before / after",
      [](const DaemonRun& r) { return format_figure(r.load_before) + " / " + format_figure(r.load_after); });

  std::ostringstream notes;
  for (const DaemonRun& r : runs) {
    const std::string name = std::string(backend_name(r.backend)) + " " + grouped(r.services);
    if (r.error) notes << "- " << name << ": FAILED: " << *r.error << "\n";
    if (r.interrupted) notes << "- " << name << ": interrupted\n";
    for (const auto& [phase, p] : {std::pair{"steady", &r.steady}, std::pair{"burst", &r.burst}}) {
      if (!p->ran) continue;
      if (p->latency.applied < p->latency.changes) {
        notes << "- " << name << ", " << phase << ": " << p->latency.changes - p->latency.applied
              << " changes with no successful sync after them in the log\n";
      }
      if (p->latency.ambiguous > 0) {
        notes << "- " << name << ", " << phase << ": " << p->latency.ambiguous
              << " changes with a sync starting within 2 ms of their write (the one matched may not hold them)\n";
      }
      if (p->changes.refused > 0) {
        notes << "- " << name << ", " << phase << ": the simulator refused " << p->changes.refused
              << " changes, the first: " << p->changes.first_refusal << "\n";
      }
    }
    if (r.daemon_exit_status && *r.daemon_exit_status != 0) {
      notes << "- " << name << ": kubenat run exited with status " << *r.daemon_exit_status << " when stopped\n";
    }
  }
  if (!notes.str().empty()) out << "\nnotes:\n" << notes.str();
  return out.str();
}

json daemon_report_to_json(const DaemonReport& report) {
  const BenchOptions& o = report.options;
  const MachineInfo& m = report.machine;
  json machine = {{"cpu", m.cpu},   {"cpus", m.cpus},         {"memory_gib", m.memory_gib}, {"kernel", m.kernel},
                  {"date", m.date}, {"iptables", m.iptables}, {"hostname", m.hostname}};
  json options = {{"scenario", "daemon"},
                  {"sizes", o.sizes},
                  {"endpoints", o.endpoints},
                  {"changes_per_second", o.daemon.changes_per_second},
                  {"steady_seconds", std::chrono::duration<double>(o.daemon.steady_duration).count()},
                  {"steady_warm_up_seconds", std::chrono::duration<double>(o.daemon.steady_warm_up).count()},
                  {"burst_services", o.daemon.burst_services},
                  {"burst_window_seconds", std::chrono::duration<double>(o.daemon.burst_window).count()},
                  {"node_port_share", o.node_port_share},
                  {"load_balancer_share", o.load_balancer_share},
                  {"affinity_share", o.affinity_share},
                  {"local_share", o.local_share},
                  {"seed", o.seed}};
  json runs = json::array();
  for (const DaemonRun& r : report.runs) {
    runs.push_back({{"backend", std::string(backend_name(r.backend))},
                    {"services", r.services},
                    {"endpoints", r.endpoints},
                    {"cold_start_seconds", r.cold_start_seconds},
                    {"startup_seconds", optional_json(r.startup_seconds)},
                    {"list_seconds", optional_json(r.list_seconds)},
                    {"first_sync_seconds", r.first_sync_seconds},
                    {"first_sync_compile_seconds",
                     r.first_sync_compile_seconds ? json(*r.first_sync_compile_seconds) : json()},
                    {"cold_start_cpu_seconds", r.cold_start_cpu_seconds},
                    {"after_first_sync", memory_to_json(r.after_first_sync)},
                    {"steady", phase_to_json(r.steady)},
                    {"burst", phase_to_json(r.burst)},
                    {"load_before", r.load_before},
                    {"load_after", r.load_after},
                    {"daemon_exit_status", r.daemon_exit_status ? json(*r.daemon_exit_status) : json()},
                    {"interrupted", r.interrupted},
                    {"error", r.error ? json(*r.error) : json()}});
  }
  return {{"machine", machine}, {"options", options}, {"runs", runs}};
}

std::string render_daemon_plot_data(const DaemonReport& report) {
  std::ostringstream out;
  bool first = true;
  for (BenchBackend backend : plotted_backends(report)) {
    if (!first) out << "\n\n";  // two blank lines: the next gnuplot index
    first = false;
    out << "# " << backend_name(backend)
        << ": services cold_start_s rss_mib hwm_mib steady_p50_ms steady_p90_ms steady_p99_ms burst_p99_ms "
           "burst_syncs\n";
    for (const DaemonRun& r : report.runs) {
      if (r.backend != backend || !plotted(r)) continue;
      out << r.services << " " << r.cold_start_seconds << " " << r.after_first_sync.rss_mib << " "
          << r.after_first_sync.hwm_mib << " " << r.steady.latency.p50 * 1000 << " " << r.steady.latency.p90 * 1000
          << " " << r.steady.latency.p99 * 1000 << " " << r.burst.latency.p99 * 1000 << " " << r.burst.latency.syncs
          << "\n";
    }
  }
  return out.str();
}

std::string render_daemon_gnuplot_script(const DaemonReport& report) {
  std::ostringstream out;
  out << "set terminal png size 960,600 noenhanced\nset logscale x\nset xlabel 'services'\nset grid\n"
         "set key top left\n";
  struct Plot {
    const char* file;
    const char* title;
    const char* ylabel;
    std::vector<std::pair<int, const char*>> columns;  // data column, what it is
    bool log_y = false;                                // latencies span milliseconds to seconds
  };
  const Plot plots[] = {
      {"daemon_cold_start.png", "kubenat run: process start to first full sync", "seconds", {{2, "cold start"}}},
      {"daemon_memory.png", "kubenat run: memory after the first sync", "MiB", {{3, "RSS"}, {4, "VmHWM"}}},
      {"daemon_latency.png",
       "kubenat run: API write to rules applied, steady changes",
       "ms",
       {{5, "p50"}, {6, "p90"}, {7, "p99"}},
       true},
  };
  for (const Plot& plot : plots) {
    out << (plot.log_y ? "set logscale y\nset yrange [*:*]\n" : "unset logscale y\nset yrange [0:*]\n");
    out << "set output '" << plot.file << "'\nset title '" << plot.title << "'\nset ylabel '" << plot.ylabel
        << "'\nplot ";
    bool first = true;
    const std::vector<BenchBackend> backends = plotted_backends(report);
    for (std::size_t i = 0; i < backends.size(); ++i) {
      const std::string name(backend_name(backends[i]));
      for (const auto& [column, what] : plot.columns) {
        if (!first) out << ", \\\n     ";
        first = false;
        out << "'daemon.dat' index " << i << " using 1:" << column << " with linespoints lw 2 title '" << name << " "
            << what << "'";
      }
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace kubenat::bench
