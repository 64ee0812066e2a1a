#include "bench/report_files.h"

#include <filesystem>
#include <fstream>

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

std::string single_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
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
  // gnuplot runs in the directory, so that the script works there as it is.
  const std::string absolute = std::filesystem::absolute(root).string();
  auto drawn = run_process({"gnuplot", "-e", "cd " + single_quoted(absolute), "plots.gp"},
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
  return written;
}

}  // namespace kubenat::bench
