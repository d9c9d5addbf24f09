# Written by trainload-report 0.1.0; run it in this folder: gnuplot report.gp
set grid
set xlabel 'ranks'

set terminal svg size 800,500 dynamic background rgb 'white'
set output 'throughput.svg'
set ylabel 'tokens/s'
set logscale xy 2
set key inside left top
set title 'Throughput (tokens per second) against ranks'
plot 'report-1.dat' using 1:2 with linespoints lw 2 pt 7 lc 1 title 'gpt-cpu-small', \
     'report-1.dat' using 1:3 with lines dt 2 lc 1 title 'gpt-cpu-small ideal'
set output 'efficiency.svg'
set ylabel 'efficiency (%)'
unset logscale y
set title 'Scaling efficiency against ranks'
set yrange [0:*]
plot 'report-1.dat' using 1:4 with linespoints lw 2 pt 7 lc 1 title 'gpt-cpu-small', \
     100 with lines dt 2 lc 'grey' title 'ideal'
set yrange [*:*]
set output 'breakdown.svg'
unset logscale x
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.6
unset logscale y
set key outside right top
set ylabel 'seconds per step'
set xlabel 'ranks'
set title 'Where the time goes: gpt-cpu-small'
plot 'report-1.dat' using 5:xtic(1) lc rgb '#4477aa' title 'compute', '' using 6 lc rgb '#ee6677' title 'tp comm', '' using 7 lc rgb '#228833' title 'cp comm', '' using 8 lc rgb '#ccbb44' title 'pp comm', '' using 9 lc rgb '#66ccee' title 'dp comm', '' using 10 lc rgb '#aa3377' title 'ep comm', '' using 11 lc rgb '#bbbbbb' title 'bubble', '' using 12 lc rgb '#222222' title 'optimizer', '' using 13 lc rgb '#ee8866' title 'other'
set style data linespoints

set terminal pngcairo size 800,500
set output 'throughput.png'
set ylabel 'tokens/s'
set logscale xy 2
set key inside left top
set title 'Throughput (tokens per second) against ranks'
plot 'report-1.dat' using 1:2 with linespoints lw 2 pt 7 lc 1 title 'gpt-cpu-small', \
     'report-1.dat' using 1:3 with lines dt 2 lc 1 title 'gpt-cpu-small ideal'
set output 'efficiency.png'
set ylabel 'efficiency (%)'
unset logscale y
set title 'Scaling efficiency against ranks'
set yrange [0:*]
plot 'report-1.dat' using 1:4 with linespoints lw 2 pt 7 lc 1 title 'gpt-cpu-small', \
     100 with lines dt 2 lc 'grey' title 'ideal'
set yrange [*:*]
set output 'breakdown.png'
unset logscale x
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.6
unset logscale y
set key outside right top
set ylabel 'seconds per step'
set xlabel 'ranks'
set title 'Where the time goes: gpt-cpu-small'
plot 'report-1.dat' using 5:xtic(1) lc rgb '#4477aa' title 'compute', '' using 6 lc rgb '#ee6677' title 'tp comm', '' using 7 lc rgb '#228833' title 'cp comm', '' using 8 lc rgb '#ccbb44' title 'pp comm', '' using 9 lc rgb '#66ccee' title 'dp comm', '' using 10 lc rgb '#aa3377' title 'ep comm', '' using 11 lc rgb '#bbbbbb' title 'bubble', '' using 12 lc rgb '#222222' title 'optimizer', '' using 13 lc rgb '#ee8866' title 'other'
set style data linespoints
