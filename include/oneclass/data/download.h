#pragma once
// Fetching data files over HTTP(S) with checksum verification (needs libcurl and OpenSSL's
// libcrypto at build time; without them download_file throws an Error saying so).
#include <string>

namespace oneclass::data {

/// True when this build can download (libcurl was found).
bool download_available();

/// Lower-case hex MD5 of a file's bytes. Throws Error naming the file if it cannot be read.
std::string md5_file(const std::string& path);

/// Downloads `url` to `dest`: writes `dest` + ".part.<pid>", checks its MD5 against `expected_md5`
/// (lower-case hex; empty = no check), then renames it to `dest`. On any failure the partial file
/// is removed and an Error names the URL, the reason (HTTP status, curl error, checksum mismatch)
/// and `dest`. Creates the parent folder. `timeout_seconds` bounds the whole transfer.
void download_file(const std::string& url, const std::string& dest, const std::string& expected_md5,
                   long timeout_seconds = 600);

}  // namespace oneclass::data
