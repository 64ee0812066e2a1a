set terminal png size 960,600 noenhanced
set output 'soak_memory.png'
set title 'kubenat run under churn: 10000 services, 20.0 changes/s'
set xlabel 'minutes'
set ylabel 'MiB'
set key bottom right
set grid
set yrange [0:*]
plot 'soak_memory.dat' index 0 using 1:2 with lines lw 2 title 'nftables RSS', 'soak_memory.dat' index 0 using 1:3 with lines dt 2 title 'nftables VmHWM', 'soak_memory.dat' index 0 using 1:4 with lines dt 3 title 'nftables RssAnon'
