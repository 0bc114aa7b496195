# drawn by frugal compare; run from runs/seed_hypothesis/plots: gnuplot plots.gp
set terminal pngcairo size 900,560 noenhanced font 'sans,10'
set key outside right
set grid
set style fill transparent solid 0.2 noborder
set output 'loss_vs_tokens.png'
set title 'seed_hypothesis: training loss, mean over seeds (band: min to max)'
set xlabel 'tokens'
set ylabel 'loss (nats per token)'
plot 'baseline.dat' using 2:4:5 with filledcurves lc 1 notitle, 'baseline.dat' using 2:3 with lines lw 2 lc 1 title 'baseline', 'tiled.dat' using 2:4:5 with filledcurves lc 2 notitle, 'tiled.dat' using 2:3 with lines lw 2 lc 2 title 'tiled', 'recompute.dat' using 2:4:5 with filledcurves lc 3 notitle, 'recompute.dat' using 2:3 with lines lw 2 lc 3 title 'recompute', 'flash.dat' using 2:4:5 with filledcurves lc 4 notitle, 'flash.dat' using 2:3 with lines lw 2 lc 4 title 'flash', 'bf16.dat' using 2:4:5 with filledcurves lc 5 notitle, 'bf16.dat' using 2:3 with lines lw 2 lc 5 title 'bf16', 'full.dat' using 2:4:5 with filledcurves lc 6 notitle, 'full.dat' using 2:3 with lines lw 2 lc 6 title 'full'
set output 'loss_vs_seconds.png'
set title 'seed_hypothesis: training loss, mean over seeds (band: min to max)'
set xlabel 'seconds (mean over seeds)'
set ylabel 'loss (nats per token)'
plot 'baseline.dat' using 6:4:5 with filledcurves lc 1 notitle, 'baseline.dat' using 6:3 with lines lw 2 lc 1 title 'baseline', 'tiled.dat' using 6:4:5 with filledcurves lc 2 notitle, 'tiled.dat' using 6:3 with lines lw 2 lc 2 title 'tiled', 'recompute.dat' using 6:4:5 with filledcurves lc 3 notitle, 'recompute.dat' using 6:3 with lines lw 2 lc 3 title 'recompute', 'flash.dat' using 6:4:5 with filledcurves lc 4 notitle, 'flash.dat' using 6:3 with lines lw 2 lc 4 title 'flash', 'bf16.dat' using 6:4:5 with filledcurves lc 5 notitle, 'bf16.dat' using 6:3 with lines lw 2 lc 5 title 'bf16', 'full.dat' using 6:4:5 with filledcurves lc 6 notitle, 'full.dat' using 6:3 with lines lw 2 lc 6 title 'full'
set output 'memory.png'
set title 'seed_hypothesis: memory by component (first run of each variant); points: peak RSS (mean)'
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
set title 'seed_hypothesis: dollars per run (mean over seeds; bars: sd)'
set ylabel 'dollars'
set format y '%.3g'
set style fill solid 0.6 border -1
set boxwidth 0.5
unset key
set xrange [-0.5:*]
plot 'bars.dat' using 0:12:xtic(1) with boxes, '' using 0:12:13 with yerrorbars lc rgb 'black' pt 0
