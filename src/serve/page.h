#pragma once
// The service's web page (src/serve/page.html), compiled in by CMake as a raw string literal.
namespace oneclass::serve {
extern const char* const kPageHtml;
}
