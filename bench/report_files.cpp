#include "bench/report_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <utility>

#include <nlohmann/json.hpp>

#include "engine/process.h"

namespace kubenat::bench {
namespace {

std::expected<void, std::string> write_file(const std::filesystem::path& path, const std::string& text,
                                            WrittenReport& written) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) return std::unexpected("cannot write " + path.string());
  written.files.push_back(path.string());
  return {};
}

// Writes each (name, text) under `root`, in order; the first failure ends it.
std::expected<void, std::string> write_files(const std::filesystem::path& root,
                                             std::initializer_list<std::pair<const char*, std::string>> files,
                                             WrittenReport& written) {
  for (const auto& [name, text] : files) {
    if (auto ok = write_file(root / name, text, written); !ok) return ok;
  }
  return {};
}

std::expected<void, std::string> make_directory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return std::unexpected("cannot create " + dir + ": " + ec.message());
  return {};
}

std::string single_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

// Runs gnuplot on `script` in `root` (so that the script works there as it
// is); on success the PNGs it drew join the
// files written, else why not is the plot error.
void draw_plots(const std::filesystem::path& root, const std::string& script, const std::vector<std::string>& pngs,
                WrittenReport& written) {
  const std::string absolute = std::filesystem::absolute(root).string();
  auto drawn = run_process({"gnuplot", "-e", "cd " + single_quoted(absolute), script},
                           ProcessOptions{.input = {}, .timeout = std::chrono::seconds(60)});
  if (!drawn) {
    written.plot_error = drawn.error();
  } else if (!drawn->ok()) {
    written.plot_error = "gnuplot exited with status " + std::to_string(drawn->exit_status) + ": " + drawn->err;
  } else {
    for (const std::string& png : pngs) {
      if (std::filesystem::exists(png)) written.files.push_back(png);
    }
  }
}

}  // namespace

std::expected<WrittenReport, std::string> write_report_files(const BenchReport& report, const std::string& dir,
                                                             bool plots) {
  const std::filesystem::path root(dir);
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return std::unexpected("cannot create " + dir + ": " + ec.message());

  WrittenReport written;
  if (auto ok = write_file(root / "bench.json", report_to_json(report).dump(2) + "\n", written); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = write_file(root / "table.md", render_table(report), written); !ok) return std::unexpected(ok.error());
  if (!plots) return written;

  std::vector<std::string> pngs;
  const std::vector<FigureInfo> figures = plotted_figures(report);
  if (figures.empty()) return written;  // nothing measured, nothing to draw
  for (const FigureInfo& figure : figures) {
    const std::string key(figure.key);
    if (auto ok = write_file(root / (key + ".dat"), render_plot_data(report, figure), written); !ok) {
      return std::unexpected(ok.error());
    }
    pngs.push_back((root / (key + ".png")).string());
  }
  if (auto ok = write_file(root / "plots.gp", render_gnuplot_script(report), written); !ok) {
    return std::unexpected(ok.error());
  }
  draw_plots(root, "plots.gp", pngs, written);
  return written;
}

std::expected<WrittenReport, std::string> write_soak_report_files(const SoakReport& report, const std::string& dir,
                                                                  bool plots) {
  if (auto made = make_directory(dir); !made) return std::unexpected(made.error());
  const std::filesystem::path root(dir);
  WrittenReport written;
  if (auto ok = write_files(
          root, {{"soak.json", soak_report_to_json(report).dump(2) + "\n"}, {"soak.md", render_soak_table(report)}},
          written);
      !ok) {
    return std::unexpected(ok.error());
  }
  const bool sampled = std::any_of(report.soaks.begin(), report.soaks.end(),
                                   [](const SoakResult& soak) { return !soak.samples.empty(); });
  if (!plots || !sampled) return written;
  if (auto ok = write_files(root,
                            {{"soak_memory.dat", render_soak_plot_data(report)},
                             {"soak.gp", render_soak_gnuplot_script(report)}},
                            written);
      !ok) {
    return std::unexpected(ok.error());
  }
  draw_plots(root, "soak.gp", {(root / "soak_memory.png").string()}, written);
  return written;
}

std::expected<WrittenReport, std::string> write_daemon_report_files(const DaemonReport& report, const std::string& dir,
                                                                    bool plots) {
  if (auto made = make_directory(dir); !made) return std::unexpected(made.error());
  const std::filesystem::path root(dir);
  WrittenReport written;
  if (auto ok = write_files(root,
                            {{"daemon.json", daemon_report_to_json(report).dump(2) + "\n"},
                             {"table.md", render_daemon_table(report)}},
                            written);
      !ok) {
    return std::unexpected(ok.error());
  }
  const bool measured = std::any_of(report.runs.begin(), report.runs.end(),
                                    [](const DaemonRun& run) { return run.cold_start_seconds > 0; });
  if (!plots || !measured) return written;
  if (auto ok = write_files(root,
                            {{"daemon.dat", render_daemon_plot_data(report)},
                             {"daemon.gp", render_daemon_gnuplot_script(report)}},
                            written);
      !ok) {
    return std::unexpected(ok.error());
  }
  std::vector<std::string> pngs;
  for (const char* png : {"daemon_cold_start.png", "daemon_memory.png", "daemon_latency.png"}) {
    pngs.push_back((root / png).string());
  }
  draw_plots(root, "daemon.gp", pngs, written);
  return written;
}

}  // namespace kubenat::bench
