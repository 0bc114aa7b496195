# drawn by frugal compare; run from runs/flashoptim/plots: gnuplot plots.gp
set terminal pngcairo size 900,560 noenhanced font 'sans,10'
set key outside right
set grid
set style fill transparent solid 0.2 noborder
set output 'loss_vs_tokens.png'
set title 'flashoptim: training loss, mean over seeds (band: min to max)'
set xlabel 'tokens'
set ylabel 'loss (nats per token)'
plot 'fp32-adamw.dat' using 2:4:5 with filledcurves lc 1 notitle, 'fp32-adamw.dat' using 2:3 with lines lw 2 lc 1 title 'fp32-adamw', 'flash-adamw.dat' using 2:4:5 with filledcurves lc 2 notitle, 'flash-adamw.dat' using 2:3 with lines lw 2 lc 2 title 'flash-adamw', 'flash-release.dat' using 2:4:5 with filledcurves lc 3 notitle, 'flash-release.dat' using 2:3 with lines lw 2 lc 3 title 'flash-release', 'tiled-attention.dat' using 2:4:5 with filledcurves lc 4 notitle, 'tiled-attention.dat' using 2:3 with lines lw 2 lc 4 title 'tiled-attention', 'recompute-block.dat' using 2:4:5 with filledcurves lc 5 notitle, 'recompute-block.dat' using 2:3 with lines lw 2 lc 5 title 'recompute-block'
set output 'loss_vs_seconds.png'
set title 'flashoptim: training loss, mean over seeds (band: min to max)'
set xlabel 'seconds (mean over seeds)'
set ylabel 'loss (nats per token)'
plot 'fp32-adamw.dat' using 6:4:5 with filledcurves lc 1 notitle, 'fp32-adamw.dat' using 6:3 with lines lw 2 lc 1 title 'fp32-adamw', 'flash-adamw.dat' using 6:4:5 with filledcurves lc 2 notitle, 'flash-adamw.dat' using 6:3 with lines lw 2 lc 2 title 'flash-adamw', 'flash-release.dat' using 6:4:5 with filledcurves lc 3 notitle, 'flash-release.dat' using 6:3 with lines lw 2 lc 3 title 'flash-release', 'tiled-attention.dat' using 6:4:5 with filledcurves lc 4 notitle, 'tiled-attention.dat' using 6:3 with lines lw 2 lc 4 title 'tiled-attention', 'recompute-block.dat' using 6:4:5 with filledcurves lc 5 notitle, 'recompute-block.dat' using 6:3 with lines lw 2 lc 5 title 'recompute-block'
set output 'memory.png'
set title 'flashoptim: memory by component (first run of each variant); points: peak RSS (mean)'
set xlabel ''
set ylabel 'MiB'
set key autotitle columnhead
set yrange [0:*]
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.6
set xtics rotate by -20
plot 'bars.dat' using 2:xtic(1), '' using 3, '' using 4, '' using 5, '' using 6, '' using 7, '' using 8, '' using 9, '' using 10, '' using 0:11 with points pt 7 ps 1.5 lc rgb 'black' title 'peak RSS'
set output 'cost.png'
set title 'flashoptim: dollars per run (mean over seeds; bars: sd)'
set ylabel 'dollars'
set format y '%.3g'
set style fill solid 0.6 border -1
set boxwidth 0.5
unset key
set xrange [-0.5:*]
plot 'bars.dat' using 0:12:xtic(1) with boxes, '' using 0:12:13 with yerrorbars lc rgb 'black' pt 0
