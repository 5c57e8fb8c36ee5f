// CRC32C (Castagnoli polynomial, as used by iSCSI, ext4 and LevelDB), the checksum on every
// segment header and log record the log store writes.
//
// Why CRC32C rather than a plain CRC32: it detects all burst errors up to 32 bits and has a
// hardware instruction on x86 (SSE4.2), so checksumming never shows up in the write path.
#pragma once

#include <cstdint>
#include <span>

namespace ballot {

// The CRC32C of `data`, continuing from `crc`, the CRC32C of the bytes before it (0 for none):
// crc32c(b, crc32c(a)) == crc32c(a followed by b). crc32c("123456789") == 0xE3069283.
// Uses the SSE4.2 instruction when the CPU has it, the portable tables otherwise.
std::uint32_t crc32c(std::span<const std::uint8_t> data, std::uint32_t crc = 0);

namespace detail {
// The portable slicing-by-8 implementation, exposed so tests can check both paths agree.
std::uint32_t crc32c_portable(std::span<const std::uint8_t> data, std::uint32_t crc = 0);
}  // namespace detail

}  // namespace ballot
