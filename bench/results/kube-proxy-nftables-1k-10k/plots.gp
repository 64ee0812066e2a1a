# Draws kubenat bench's plots: run `gnuplot plots.gp` in this directory.
set terminal png size 960,600 noenhanced
set datafile missing 'NaN'
set xlabel 'services'
set logscale x 10
set grid
set key top left
set xrange [800:12500]
set xtics (1000, 10000)

set output 'compile_ms.png'
set title 'compile time, 10 endpoints per service (median, min..max)' . "\n" . '2026-12-05T06:50:51Z, AMD EPYC, 2 CPUs, 23.5 GiB, Linux 6.18.44-fc-v1272, iptables v1.8.9 (nf_tables)'
set ylabel 'ms'
set logscale y 10
plot 'compile_ms.dat' using 1:2:3:4 with yerrorlines linewidth 2 pointsize 1.5 title 'nftables'

set output 'full_sync_ms.png'
set title 'first full sync, 10 endpoints per service (median, min..max)' . "\n" . '2026-12-05T06:50:51Z, AMD EPYC, 2 CPUs, 23.5 GiB, Linux 6.18.44-fc-v1272, iptables v1.8.9 (nf_tables)'
set ylabel 'ms'
set logscale y 10
plot 'full_sync_ms.dat' using 1:2:3:4 with yerrorlines linewidth 2 pointsize 1.5 title 'nftables', \
     '' using 1:5:6:7 with yerrorlines linewidth 2 pointsize 1.5 title 'kube-proxy-nftables'

set output 'endpoint_change_ms.png'
set title 'one-endpoint change, 10 endpoints per service (median, min..max)' . "\n" . '2026-12-05T06:50:51Z, AMD EPYC, 2 CPUs, 23.5 GiB, Linux 6.18.44-fc-v1272, iptables v1.8.9 (nf_tables)'
set ylabel 'ms'
set logscale y 10
plot 'endpoint_change_ms.dat' using 1:2:3:4 with yerrorlines linewidth 2 pointsize 1.5 title 'nftables', \
     '' using 1:5:6:7 with yerrorlines linewidth 2 pointsize 1.5 title 'kube-proxy-nftables'

set output 'endpoint_change_bytes.png'
set title 'one-endpoint change, bytes to the kernel, 10 endpoints per service (median, min..max)' . "\n" . '2026-12-05T06:50:51Z, AMD EPYC, 2 CPUs, 23.5 GiB, Linux 6.18.44-fc-v1272, iptables v1.8.9 (nf_tables)'
set ylabel 'bytes'
set logscale y 10
plot 'endpoint_change_bytes.dat' using 1:2:3:4 with yerrorlines linewidth 2 pointsize 1.5 title 'nftables', \
     '' using 1:5:6:7 with yerrorlines linewidth 2 pointsize 1.5 title 'kube-proxy-nftables'

set output 'service_add_ms.png'
set title 'one-service add, 10 endpoints per service (median, min..max)' . "\n" . '2026-12-05T06:50:51Z, AMD EPYC, 2 CPUs, 23.5 GiB, Linux 6.18.44-fc-v1272, iptables v1.8.9 (nf_tables)'
set ylabel 'ms'
set logscale y 10
plot 'service_add_ms.dat' using 1:2:3:4 with yerrorlines linewidth 2 pointsize 1.5 title 'nftables', \
     '' using 1:5:6:7 with yerrorlines linewidth 2 pointsize 1.5 title 'kube-proxy-nftables'

set output 'peak_memory_mib.png'
set title 'peak memory (VmHWM), 10 endpoints per service (median, min..max)' . "\n" . '2026-12-05T06:50:51Z, AMD EPYC, 2 CPUs, 23.5 GiB, Linux 6.18.44-fc-v1272, iptables v1.8.9 (nf_tables)'
set ylabel 'MiB'
unset logscale y
plot 'peak_memory_mib.dat' using 1:2:3:4 with yerrorlines linewidth 2 pointsize 1.5 title 'nftables'

set output 'connect_latency_us.png'
set title 'new-connection latency, median of a run, 10 endpoints per service (median, min..max)' . "\n" . '2026-12-05T06:50:51Z, AMD EPYC, 2 CPUs, 23.5 GiB, Linux 6.18.44-fc-v1272, iptables v1.8.9 (nf_tables)'
set ylabel 'us'
set logscale y 10
plot 'connect_latency_us.dat' using 1:2:3:4 with yerrorlines linewidth 2 pointsize 1.5 title 'nftables', \
     '' using 1:5:6:7 with yerrorlines linewidth 2 pointsize 1.5 title 'kube-proxy-nftables', \
     '' using 1:8:9:10 with yerrorlines linewidth 2 pointsize 1.5 title 'floor'

set output 'connect_latency_p99_us.png'
set title 'new-connection latency, 99th percentile of a run, 10 endpoints per service (median, min..max)' . "\n" . '2026-12-05T06:50:51Z, AMD EPYC, 2 CPUs, 23.5 GiB, Linux 6.18.44-fc-v1272, iptables v1.8.9 (nf_tables)'
set ylabel 'us'
set logscale y 10
plot 'connect_latency_p99_us.dat' using 1:2:3:4 with yerrorlines linewidth 2 pointsize 1.5 title 'nftables', \
     '' using 1:5:6:7 with yerrorlines linewidth 2 pointsize 1.5 title 'kube-proxy-nftables', \
     '' using 1:8:9:10 with yerrorlines linewidth 2 pointsize 1.5 title 'floor'

set output 'connections_per_second.png'
set title 'new connections per second, 10 endpoints per service (median, min..max)' . "\n" . '2026-12-05T06:50:51Z, AMD EPYC, 2 CPUs, 23.5 GiB, Linux 6.18.44-fc-v1272, iptables v1.8.9 (nf_tables)'
set ylabel 'conn/s'
unset logscale y
plot 'connections_per_second.dat' using 1:2:3:4 with yerrorlines linewidth 2 pointsize 1.5 title 'nftables', \
     '' using 1:5:6:7 with yerrorlines linewidth 2 pointsize 1.5 title 'kube-proxy-nftables', \
     '' using 1:8:9:10 with yerrorlines linewidth 2 pointsize 1.5 title 'floor'
