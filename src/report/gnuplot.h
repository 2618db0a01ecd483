#pragma once
// gnuplot, the program that draws the figures: finding it, checking that it can write PNG, running
// one script, and the quoting its scripts need. Internal to the report layer.
#include <cstddef>
#include <string>
#include <vector>

namespace oneclass::report {

/// Which gnuplot would run ($ONECLASS_GNUPLOT, the one found at build time, or PATH) and whether it
/// runs with the pngcairo terminal. Probed once per program path.
struct GnuplotStatus {
  bool ok = false;
  std::string path;     // the program
  std::string version;  // e.g. "5.4"
  std::string why_not;  // when !ok: what is missing and how to install it
};
GnuplotStatus gnuplot_status();

/// Writes data_texts[i] as d<i>.dat into a private scratch folder, sets `datadir` to that folder
/// for `script`, and runs gnuplot on it. Throws Error with gnuplot's own words (the end of them),
/// naming `what`, when gnuplot is missing or fails. The scratch folder is removed either way.
void run_gnuplot(const std::string& script, const std::vector<std::string>& data_texts, const std::string& what);

// Script text.
/// A data value at full float precision; "NaN" (which gnuplot skips) for a non-finite one.
std::string gnuplot_number(double v);
/// A gnuplot single-quoted string: '' for a quote, a space for a line break.
std::string quote(const std::string& s);
/// The figures' font at `size` points, as a quoted gnuplot font name.
std::string font(int size, bool bold = false);
/// Characters of a UTF-8 text, not bytes (captions contain "·", two bytes), to size a canvas.
size_t text_length(const std::string& s);

}  // namespace oneclass::report
