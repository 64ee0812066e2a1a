#pragma once

// The daemon's log: klog-like lines, "I1125 14:30:00.123456 message", with
// kube-proxy's -v levels. Thread-safe.

#include <iosfwd>
#include <mutex>
#include <string>

namespace kubenat {

class Log {
 public:
  // Lines go to `out`; info lines above `verbosity` are dropped.
  Log(std::ostream& out, int verbosity) : out_(out), verbosity_(verbosity) {}
  void info(int level, const std::string& message) { write('I', level, message); }
  void warning(const std::string& message) { write('W', 0, message); }
  void error(const std::string& message) { write('E', 0, message); }

 private:
  void write(char severity, int level, const std::string& message);

  std::ostream& out_;
  int verbosity_;
  std::mutex mu_;
};

}  // namespace kubenat
