# Written by trainload-report 0.1.0; run it in this folder: gnuplot report.gp
set grid
set datafile missing '?'

set terminal svg size 900,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set output 'throughput.svg'
set xlabel 'ranks'
set ylabel 'tokens/s'
set logscale xy 2
set key below center horizontal maxcols 3
set bmargin 5.2
set title "Throughput: gpt-cpu-small (weak scaling)\nIntel(R) Xeon(R) Processor, 2026-12-07"
plot 'report-1.dat' using 1:4:5:6 with yerrorlines lw 2 pt 7 ps 1.2 lc 1 title "gpt-cpu-small", \
     'report-1.dat' using 1:7 with lines dt 2 lw 2 lc 1 title "gpt-cpu-small, ideal"
set output 'efficiency.svg'
set ylabel 'scaling efficiency (%)'
unset logscale y
set yrange [0:120]
set key below center horizontal maxcols 3
set bmargin 5.2
set title "Scaling efficiency: gpt-cpu-small (weak scaling)\nIntel(R) Xeon(R) Processor, 2026-12-07"
plot 'report-1.dat' using 1:8:9:10 with yerrorlines lw 2 pt 7 ps 1.2 lc 1 title "gpt-cpu-small", \
     100 with lines dt 2 lw 2 lc rgb '#555555' title 'ideal (100%)'
set yrange [*:*]
set output 'breakdown.svg'
unset logscale
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set key outside right top vertical
set bmargin
set ylabel 'seconds per step (slowest rank, p50 of each part)'
set xlabel 'ranks'
set title "Where the time goes: gpt-cpu-small (weak scaling)\nIntel(R) Xeon(R) Processor, 2026-12-07"
plot 'report-1.dat' using 11:xtic(1) lc rgb '#4477aa' title 'compute', 'report-1.dat' using 15 lc rgb '#66ccee' title 'dp_comm', 'report-1.dat' using 18 lc rgb '#222222' title 'optimizer'
set style data linespoints
set output 'predicted.svg'
set logscale x 2
set ylabel 'step time (s)'
set yrange [0:*]
set key below center horizontal maxcols 3
set bmargin 5.2
set title "Predicted and measured step time: gpt-cpu-small (weak scaling)\nIntel(R) Xeon(R) Processor, 2026-12-07"
plot 'predicted-1.dat' using 1:2 with linespoints lw 2 pt 6 lc rgb '#4477aa' title 'predicted (the report''s model)', '' using 1:3:4:5 with yerrorbars pt 7 ps 1.3 lc rgb '#ee6677' title 'measured (mean, min-max)'
unset object 1
unset label 1
set xrange [*:*]
set yrange [*:*]
set output 'busbw.svg'
set logscale x 2
set logscale y 10
set xlabel 'message size (bytes; k, M, G: binary)'
set format x '%.0b%B'
set ylabel 'busbw (GB/s)'
set key below center horizontal maxcols 3
set bmargin 5.2
set title "Bus bandwidth against message size (sweeps)\nIntel(R) Xeon(R) Processor, 2026-12-07"
array sweep_titles[1] = ["allreduce world of 2 (allreduce-sweep-2.json)"]
plot for [i=0:0] 'sweeps.dat' index i using 1:2 with linespoints lw 2 pt 7 title sweep_titles[i+1]
set format x '% h'
unset logscale

set terminal pngcairo size 900,560 font 'sans,11'
set termoption noenhanced
set output 'throughput.png'
set xlabel 'ranks'
set ylabel 'tokens/s'
set logscale xy 2
set key below center horizontal maxcols 3
set bmargin 5.2
set title "Throughput: gpt-cpu-small (weak scaling)\nIntel(R) Xeon(R) Processor, 2026-12-07"
plot 'report-1.dat' using 1:4:5:6 with yerrorlines lw 2 pt 7 ps 1.2 lc 1 title "gpt-cpu-small", \
     'report-1.dat' using 1:7 with lines dt 2 lw 2 lc 1 title "gpt-cpu-small, ideal"
set output 'efficiency.png'
set ylabel 'scaling efficiency (%)'
unset logscale y
set yrange [0:120]
set key below center horizontal maxcols 3
set bmargin 5.2
set title "Scaling efficiency: gpt-cpu-small (weak scaling)\nIntel(R) Xeon(R) Processor, 2026-12-07"
plot 'report-1.dat' using 1:8:9:10 with yerrorlines lw 2 pt 7 ps 1.2 lc 1 title "gpt-cpu-small", \
     100 with lines dt 2 lw 2 lc rgb '#555555' title 'ideal (100%)'
set yrange [*:*]
set output 'breakdown.png'
unset logscale
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set key outside right top vertical
set bmargin
set ylabel 'seconds per step (slowest rank, p50 of each part)'
set xlabel 'ranks'
set title "Where the time goes: gpt-cpu-small (weak scaling)\nIntel(R) Xeon(R) Processor, 2026-12-07"
plot 'report-1.dat' using 11:xtic(1) lc rgb '#4477aa' title 'compute', 'report-1.dat' using 15 lc rgb '#66ccee' title 'dp_comm', 'report-1.dat' using 18 lc rgb '#222222' title 'optimizer'
set style data linespoints
set output 'predicted.png'
set logscale x 2
set ylabel 'step time (s)'
set yrange [0:*]
set key below center horizontal maxcols 3
set bmargin 5.2
set title "Predicted and measured step time: gpt-cpu-small (weak scaling)\nIntel(R) Xeon(R) Processor, 2026-12-07"
plot 'predicted-1.dat' using 1:2 with linespoints lw 2 pt 6 lc rgb '#4477aa' title 'predicted (the report''s model)', '' using 1:3:4:5 with yerrorbars pt 7 ps 1.3 lc rgb '#ee6677' title 'measured (mean, min-max)'
unset object 1
unset label 1
set xrange [*:*]
set yrange [*:*]
set output 'busbw.png'
set logscale x 2
set logscale y 10
set xlabel 'message size (bytes; k, M, G: binary)'
set format x '%.0b%B'
set ylabel 'busbw (GB/s)'
set key below center horizontal maxcols 3
set bmargin 5.2
set title "Bus bandwidth against message size (sweeps)\nIntel(R) Xeon(R) Processor, 2026-12-07"
array sweep_titles[1] = ["allreduce world of 2 (allreduce-sweep-2.json)"]
plot for [i=0:0] 'sweeps.dat' index i using 1:2 with linespoints lw 2 pt 7 title sweep_titles[i+1]
set format x '% h'
unset logscale
