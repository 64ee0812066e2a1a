#include "bench/soak_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/bench_report.h"
#include "engine/daemon/duration.h"

namespace kubenat::bench {
namespace {

using nlohmann::json;

constexpr std::size_t kSeriesRows = 30;

std::string fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string signed_fixed(double value, int decimals) { return (value >= 0 ? "+" : "") + fixed(value, decimals); }

// "0:10", "12:30", "1:02:03".
std::string clock_time(double seconds) {
  const long total = std::lround(seconds);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  }
  return text;
}

std::string go_duration(std::chrono::milliseconds duration) {
  return format_duration(std::chrono::duration_cast<std::chrono::nanoseconds>(duration));
}

std::string percent(double share) {
  char text[16];
  std::snprintf(text, sizeof text, "%g %%", share * 100);
  return text;
}

json sample_to_json(const SoakSample& s) {
  return {{"seconds", s.seconds},
          {"rss_mib", s.daemon.rss_mib},
          {"hwm_mib", s.daemon.hwm_mib},
          {"rss_anon_mib", s.daemon.rss_anon_mib},
          {"threads", s.daemon.threads},
          {"open_fds", s.daemon.open_fds},
          {"syncs", s.counters.syncs},
          {"full_syncs", s.counters.full_syncs},
          {"failed_syncs", s.counters.failed_syncs},
          {"backend_failures", s.counters.backend_failures},
          {"changes", s.changes},
          {"bench_rss_mib", s.bench_rss_mib},
          {"load_average", s.load_average}};
}

json counters_to_json(const DaemonCounters& c) {
  return {{"syncs", c.syncs},
          {"full_syncs", c.full_syncs},
          {"partial_syncs", c.partial_syncs},
          {"failed_syncs", c.failed_syncs},
          {"backend_failures", c.backend_failures},
          {"service_changes", c.service_changes},
          {"endpoint_changes", c.endpoint_changes},
          {"full_sync_seconds_sum", c.full_sync_seconds_sum},
          {"partial_sync_seconds_sum", c.partial_sync_seconds_sum},
          {"partial_sync_count", c.partial_sync_count},
          {"programming_seconds_sum", c.programming_seconds_sum},
          {"programming_count", c.programming_count},
          {"programming_p99_at_most_seconds",
           std::isinf(c.programming_p99_at_most) ? json("+Inf") : json(c.programming_p99_at_most)},
          {"watch_reconnects", c.watch_reconnects},
          {"watch_relists", c.watch_relists},
          {"watch_decode_errors", c.watch_decode_errors}};
}

std::string mib(double value) { return format_figure(value) + " MiB"; }

std::string yes_no_final_state(const FinalStateCheck& check) {
  if (!check.compared) return "not compared" + (check.detail.empty() ? "" : ": " + check.detail);
  if (check.equal) return "yes (" + std::to_string(check.lines) + " lines of rules)";
  return "NO: " + check.detail;
}

}  // namespace

SoakSummary summarize_soak(const SoakResult& result, std::chrono::milliseconds warm_up) {
  SoakSummary summary;
  if (result.samples.empty()) return summary;
  summary.last = result.samples.back();
  const double warm_up_seconds = std::chrono::duration<double>(warm_up).count();
  std::vector<const SoakSample*> after;
  for (const SoakSample& sample : result.samples) {
    if (sample.seconds + 1e-9 >= warm_up_seconds) after.push_back(&sample);
  }
  if (result.churn_seconds > 0) {
    summary.changes_per_second = static_cast<double>(result.changes.total()) / result.churn_seconds;
  }
  if (after.empty()) return summary;
  summary.after_warm_up = *after.front();
  const double base = after.front()->daemon.rss_mib;
  if (base > 0) summary.drift_percent = (summary.last->daemon.rss_mib - base) / base * 100;
  for (const SoakSample* sample : after) {
    summary.max_rss_after_warm_up_mib = std::max(summary.max_rss_after_warm_up_mib, sample->daemon.rss_mib);
  }
  if (after.size() >= 3) {
    double mean_t = 0, mean_y = 0;
    for (const SoakSample* s : after) {
      mean_t += s->seconds;
      mean_y += s->daemon.rss_mib;
    }
    mean_t /= static_cast<double>(after.size());
    mean_y /= static_cast<double>(after.size());
    double covariance = 0, variance = 0;
    for (const SoakSample* s : after) {
      covariance += (s->seconds - mean_t) * (s->daemon.rss_mib - mean_y);
      variance += (s->seconds - mean_t) * (s->seconds - mean_t);
    }
    if (variance > 0) summary.trend_mib_per_hour = covariance / variance * 3600;
  }
  return summary;
}

std::string render_soak_table(const SoakReport& report) {
  const BenchOptions& o = report.options;
  const SoakOptions& soak = o.soak;
  std::ostringstream out;
  out << "kubenat bench --scenario soak, " << report.machine.date << ", " << report.machine.summary() << "\n";
  out << soak.services << " services x " << o.endpoints << " endpoints; NodePort " << percent(o.node_port_share)
      << ", LoadBalancer " << percent(o.load_balancer_share) << ", affinity " << percent(o.affinity_share) << ", Local "
      << percent(o.local_share) << "; seed " << o.seed << "\n";
  out << go_duration(soak.duration) << " of changes at " << format_figure(soak.changes_per_second)
      << " per second; a sample every " << go_duration(soak.sample_interval) << "; drift measured after a warm-up of "
      << go_duration(soak.warm_up) << "\n";

  std::vector<SoakSummary> summaries;
  for (const SoakResult& result : report.soaks) summaries.push_back(summarize_soak(result, soak.warm_up));

  out << "\n|  |";
  for (const SoakResult& result : report.soaks) out << " " << backend_name(result.backend) << " |";
  out << "\n|---|";
  for (std::size_t i = 0; i < report.soaks.size(); ++i) out << "---:|";
  out << "\n";
  auto row = [&](const std::string& title, const auto& cell) {
    out << "| " << title << " |";
    for (std::size_t i = 0; i < report.soaks.size(); ++i) out << " " << cell(report.soaks[i], summaries[i]) << " |";
    out << "\n";
  };
  row("changes made (endpoints / services / nodes)", [](const SoakResult& r, const SoakSummary&) {
    return std::to_string(r.changes.total()) + " (" + std::to_string(r.changes.endpoints()) + " / " +
           std::to_string(r.changes.services()) + " / " + std::to_string(r.changes.nodes()) + ")";
  });
  row("changes per second, made", [](const SoakResult& r, const SoakSummary& s) {
    return fixed(s.changes_per_second, 1) + " over " + clock_time(r.churn_seconds);
  });
  row("list and first full sync",
      [](const SoakResult& r, const SoakSummary&) { return fixed(r.first_sync_seconds, 1) + " s"; });
  row("syncs (full / partial)", [](const SoakResult& r, const SoakSummary&) {
    const DaemonCounters& c = r.final_counters;
    return std::to_string(c.syncs) + " (" + std::to_string(c.full_syncs) + " / " + std::to_string(c.partial_syncs) +
           ")";
  });
  row("failed syncs (the backend's failure counter)", [](const SoakResult& r, const SoakSummary&) {
    return std::to_string(r.final_counters.failed_syncs) + " (" + std::to_string(r.final_counters.backend_failures) +
           ")";
  });
  row("partial sync, mean", [](const SoakResult& r, const SoakSummary&) {
    const DaemonCounters& c = r.final_counters;
    if (c.partial_sync_count == 0) return std::string("-");
    return format_figure(c.partial_sync_seconds_sum / static_cast<double>(c.partial_sync_count) * 1000) + " ms";
  });
  row("slice written to rules applied: mean, p99", [](const SoakResult& r, const SoakSummary&) {
    const DaemonCounters& c = r.final_counters;
    if (c.programming_count == 0) return std::string("-");
    const std::string p99 = std::isinf(c.programming_p99_at_most)
                                ? "over the largest bucket"
                                : "at most " + format_figure(c.programming_p99_at_most * 1000) + " ms";
    return format_figure(c.programming_seconds_sum / static_cast<double>(c.programming_count) * 1000) + " ms, " + p99;
  });
  row("watch relists / reconnects / decode errors", [](const SoakResult& r, const SoakSummary&) {
    const DaemonCounters& c = r.final_counters;
    return std::to_string(c.watch_relists) + " / " + std::to_string(c.watch_reconnects) + " / " +
           std::to_string(c.watch_decode_errors);
  });
  row("RSS after the warm-up", [](const SoakResult&, const SoakSummary& s) {
    if (!s.after_warm_up) return std::string("- (run shorter than the warm-up)");
    return mib(s.after_warm_up->daemon.rss_mib) + " (at " + clock_time(s.after_warm_up->seconds) + ")";
  });
  row("RSS at the end", [](const SoakResult&, const SoakSummary& s) {
    if (!s.last) return std::string("-");
    return mib(s.last->daemon.rss_mib) + " (at " + clock_time(s.last->seconds) + ")";
  });
  row("RSS drift after the warm-up", [](const SoakResult&, const SoakSummary& s) {
    return s.drift_percent ? signed_fixed(*s.drift_percent, 1) + " %" : std::string("-");
  });
  row("RSS trend after the warm-up (least squares)", [](const SoakResult&, const SoakSummary& s) {
    return s.trend_mib_per_hour ? signed_fixed(*s.trend_mib_per_hour, 1) + " MiB/h" : std::string("-");
  });
  row("largest RSS after the warm-up", [](const SoakResult&, const SoakSummary& s) {
    return s.after_warm_up ? mib(s.max_rss_after_warm_up_mib) : std::string("-");
  });
  row("peak RSS (VmHWM) at the end",
      [](const SoakResult&, const SoakSummary& s) { return s.last ? mib(s.last->daemon.hwm_mib) : std::string("-"); });
  row("threads, open files at the end", [](const SoakResult&, const SoakSummary& s) {
    return s.last ? std::to_string(s.last->daemon.threads) + ", " + std::to_string(s.last->daemon.open_fds)
                  : std::string("-");
  });
  row("final rules equal to a fresh daemon's",
      [](const SoakResult& r, const SoakSummary&) { return yes_no_final_state(r.final_state); });

  for (const SoakResult& result : report.soaks) {
    if (result.samples.empty()) continue;
    out << "\n" << backend_name(result.backend) << ": the daemon over time\n\n";
    out << "| time | RSS (MiB) | VmHWM (MiB) | RssAnon (MiB) | syncs | failed | changes | load |\n";
    out << "|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    const std::size_t n = result.samples.size();
    const std::size_t step = (n + kSeriesRows - 1) / kSeriesRows;
    for (std::size_t i = 0; i < n; ++i) {
      if (i % step != 0 && i + 1 != n) continue;
      const SoakSample& s = result.samples[i];
      out << "| " << clock_time(s.seconds) << " | " << fixed(s.daemon.rss_mib, 1) << " | " << fixed(s.daemon.hwm_mib, 1)
          << " | " << fixed(s.daemon.rss_anon_mib, 1) << " | " << s.counters.syncs << " | " << s.counters.failed_syncs
          << " | " << s.changes << " | " << fixed(s.load_average, 2) << " |\n";
    }
  }

  std::ostringstream notes;
  for (const SoakResult& result : report.soaks) {
    const std::string name(backend_name(result.backend));
    if (result.error) notes << "- " << name << ": FAILED: " << *result.error << "\n";
    if (result.interrupted) notes << "- " << name << ": interrupted after " << clock_time(result.churn_seconds) << "\n";
    if (result.changes.refused > 0) {
      notes << "- " << name << ": the simulator refused " << result.changes.refused
            << " changes (made as others), the first: " << result.changes.first_refusal << "\n";
    }
    if (result.daemon_exit_status && *result.daemon_exit_status != 0) {
      notes << "- " << name << ": kubenat run exited with status " << *result.daemon_exit_status << " when stopped\n";
    }
  }
  if (!notes.str().empty()) out << "\nnotes:\n" << notes.str();
  return out.str();
}

json soak_report_to_json(const SoakReport& report) {
  const BenchOptions& o = report.options;
  const MachineInfo& m = report.machine;
  json machine = {{"cpu", m.cpu},   {"cpus", m.cpus},         {"memory_gib", m.memory_gib}, {"kernel", m.kernel},
                  {"date", m.date}, {"iptables", m.iptables}, {"hostname", m.hostname}};
  json options = {{"scenario", "soak"},
                  {"services", o.soak.services},
                  {"endpoints", o.endpoints},
                  {"duration_seconds", std::chrono::duration<double>(o.soak.duration).count()},
                  {"changes_per_second", o.soak.changes_per_second},
                  {"sample_interval_seconds", std::chrono::duration<double>(o.soak.sample_interval).count()},
                  {"warm_up_seconds", std::chrono::duration<double>(o.soak.warm_up).count()},
                  {"node_port_share", o.node_port_share},
                  {"load_balancer_share", o.load_balancer_share},
                  {"affinity_share", o.affinity_share},
                  {"local_share", o.local_share},
                  {"seed", o.seed}};
  json soaks = json::array();
  for (const SoakResult& r : report.soaks) {
    const SoakSummary s = summarize_soak(r, o.soak.warm_up);
    json changes = {{"total", r.changes.total()},       {"endpoints", r.changes.endpoints()},
                    {"services", r.changes.services()}, {"nodes", r.changes.nodes()},
                    {"refused", r.changes.refused},     {"first_refusal", r.changes.first_refusal}};
    for (ChangeKind kind : kAllChangeKinds) {
      auto it = r.changes.by_kind.find(kind);
      changes[std::string(change_kind_name(kind))] = it == r.changes.by_kind.end() ? 0 : it->second;
    }
    json summary = {{"changes_per_second", s.changes_per_second},
                    {"rss_after_warm_up_mib", s.after_warm_up ? json(s.after_warm_up->daemon.rss_mib) : json()},
                    {"after_warm_up_seconds", s.after_warm_up ? json(s.after_warm_up->seconds) : json()},
                    {"rss_end_mib", s.last ? json(s.last->daemon.rss_mib) : json()},
                    {"hwm_end_mib", s.last ? json(s.last->daemon.hwm_mib) : json()},
                    {"drift_percent", s.drift_percent ? json(*s.drift_percent) : json()},
                    {"trend_mib_per_hour", s.trend_mib_per_hour ? json(*s.trend_mib_per_hour) : json()},
                    {"max_rss_after_warm_up_mib", s.max_rss_after_warm_up_mib}};
    json samples = json::array();
    for (const SoakSample& sample : r.samples) samples.push_back(sample_to_json(sample));
    soaks.push_back({{"backend", std::string(backend_name(r.backend))},
                     {"services", r.services},
                     {"endpoints", r.endpoints},
                     {"changes_per_second", r.changes_per_second},
                     {"duration_seconds", std::chrono::duration<double>(r.duration).count()},
                     {"churn_seconds", r.churn_seconds},
                     {"first_sync_seconds", r.first_sync_seconds},
                     {"fresh_sync_seconds", r.fresh_sync_seconds},
                     {"changes", changes},
                     {"final_counters", counters_to_json(r.final_counters)},
                     {"final_state",
                      {{"compared", r.final_state.compared},
                       {"equal", r.final_state.equal},
                       {"detail", r.final_state.detail},
                       {"lines", r.final_state.lines},
                       {"attempts", r.final_state.attempts}}},
                     {"daemon_exit_status", r.daemon_exit_status ? json(*r.daemon_exit_status) : json()},
                     {"interrupted", r.interrupted},
                     {"error", r.error ? json(*r.error) : json()},
                     {"summary", summary},
                     {"samples", samples}});
  }
  return {{"machine", machine}, {"options", options}, {"soaks", soaks}};
}

std::string render_soak_plot_data(const SoakReport& report) {
  std::ostringstream out;
  bool first = true;
  for (const SoakResult& result : report.soaks) {
    if (!first) out << "\n\n";  // two blank lines: the next gnuplot index
    first = false;
    out << "# " << backend_name(result.backend) << ": minutes RSS_MiB VmHWM_MiB RssAnon_MiB\n";
    for (const SoakSample& s : result.samples) {
      out << fixed(s.seconds / 60, 3) << " " << fixed(s.daemon.rss_mib, 2) << " " << fixed(s.daemon.hwm_mib, 2) << " "
          << fixed(s.daemon.rss_anon_mib, 2) << "\n";
    }
  }
  return out.str();
}

std::string render_soak_gnuplot_script(const SoakReport& report) {
  std::ostringstream out;
  out << "set terminal png size 960,600 noenhanced\n"
         "set output 'soak_memory.png'\n"
         "set title 'kubenat run under churn: "
      << report.options.soak.services << " services, " << format_figure(report.options.soak.changes_per_second)
      << " changes/s'\n"
         "set xlabel 'minutes'\nset ylabel 'MiB'\nset key bottom right\nset grid\nset yrange [0:*]\n"
         "plot ";
  for (std::size_t i = 0; i < report.soaks.size(); ++i) {
    const std::string name(backend_name(report.soaks[i].backend));
    if (i > 0) out << ", \\\n     ";
    out << "'soak_memory.dat' index " << i << " using 1:2 with lines lw 2 title '" << name << " RSS', "
        << "'soak_memory.dat' index " << i << " using 1:3 with lines dt 2 title '" << name << " VmHWM', "
        << "'soak_memory.dat' index " << i << " using 1:4 with lines dt 3 title '" << name << " RssAnon'";
  }
  out << "\n";
  return out.str();
}

}  // namespace kubenat::bench
