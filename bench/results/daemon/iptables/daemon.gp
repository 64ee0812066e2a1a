set terminal png size 960,600 noenhanced
set logscale x
set xlabel 'services'
set grid
set key top left
unset logscale y
set yrange [0:*]
set output 'daemon_cold_start.png'
set title 'kubenat run: process start to first full sync'
set ylabel 'seconds'
plot 'daemon.dat' index 0 using 1:2 with linespoints lw 2 title 'iptables cold start'
unset logscale y
set yrange [0:*]
set output 'daemon_memory.png'
set title 'kubenat run: memory after the first sync'
set ylabel 'MiB'
plot 'daemon.dat' index 0 using 1:3 with linespoints lw 2 title 'iptables RSS', \
     'daemon.dat' index 0 using 1:4 with linespoints lw 2 title 'iptables VmHWM'
set logscale y
set yrange [*:*]
set output 'daemon_latency.png'
set title 'kubenat run: API write to rules applied, steady changes'
set ylabel 'ms'
plot 'daemon.dat' index 0 using 1:5 with linespoints lw 2 title 'iptables p50', \
     'daemon.dat' index 0 using 1:6 with linespoints lw 2 title 'iptables p90', \
     'daemon.dat' index 0 using 1:7 with linespoints lw 2 title 'iptables p99'
