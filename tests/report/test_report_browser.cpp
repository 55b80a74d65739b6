// Opens the HTML report in real headless Chromium: no console messages (errors, failed loads),
// the DOM holds every chart, and the screenshot shows the charts' colours (not blank).
// Skips when Debian's `chromium` is not installed.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compress/lenet5.h"
#include "stern/report.h"

namespace stern {
namespace {

namespace fs = std::filesystem;

constexpr const char* kChromium = "/usr/bin/chromium";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Browser {
  fs::path dir;
  Browser() {
    dir = fs::temp_directory_path() / ("stern_browser_" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  ~Browser() { fs::remove_all(dir); }

  // Runs chromium with a fresh profile; `mode` is --screenshot=... or --dump-dom. Returns the
  // exit status; stdout and stderr land in dir/out.txt and dir/err.txt.
  int run(const fs::path& page, const std::string& mode) {
    static int profile = 0;
    const std::string cmd = std::string("timeout 120 ") + kChromium +
                            " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                            " --disable-background-networking --disable-component-update --disable-sync"
                            " --enable-logging=stderr --v=0 --window-size=1400,2400 --hide-scrollbars"
                            " --user-data-dir=" + (dir / ("profile" + std::to_string(profile++))).string() + " " + mode +
                            " file://" + page.string() + " > " + (dir / "out.txt").string() + " 2> " +
                            (dir / "err.txt").string();
    return std::system(cmd.c_str());
  }
  // Chromium logs every console message (console.*, uncaught errors, failed resource loads)
  // as a line with ":CONSOLE" in it.
  std::vector<std::string> console_lines() const {
    std::vector<std::string> out;
    std::istringstream in(read_text(dir / "err.txt"));
    for (std::string line; std::getline(in, line);)
      if (line.find(":CONSOLE") != std::string::npos) out.push_back(line);
    return out;
  }
};

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// Decodes the 8-bit RGB/RGBA non-interlaced PNGs Chromium writes (zlib + the five filters).
Image decode_png(const std::string& file) {
  const auto* b = reinterpret_cast<const uint8_t*>(file.data());
  Image img;
  if (file.size() < 8 || file.compare(1, 3, "PNG") != 0) return img;
  std::vector<uint8_t> idat;
  int channels = 0;
  for (size_t at = 8; at + 12 <= file.size();) {
    const uint32_t len = be32(b + at);
    const std::string type = file.substr(at + 4, 4);
    if (at + 12 + len > file.size()) return Image{};
    const uint8_t* d = b + at + 8;
    if (type == "IHDR") {
      img.width = int(be32(d));
      img.height = int(be32(d + 4));
      if (d[8] != 8 || (d[9] != 2 && d[9] != 6) || d[12] != 0) return Image{};
      channels = d[9] == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      idat.insert(idat.end(), d, d + len);
    }
    at += 12 + len;
  }
  const size_t stride = size_t(img.width) * channels;
  std::vector<uint8_t> raw((stride + 1) * img.height);
  uLongf raw_size = raw.size();
  if (channels == 0 || uncompress(raw.data(), &raw_size, idat.data(), idat.size()) != Z_OK || raw_size != raw.size())
    return Image{};
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  img.rgb.reserve(size_t(img.width) * img.height * 3);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= size_t(channels) ? cur[i - channels] : 0, up = prev[i],
                c = i >= size_t(channels) ? prev[i - channels] : 0;
      int pred = 0;
      switch (filter) {
        case 1: pred = a; break;
        case 2: pred = up; break;
        case 3: pred = (a + up) / 2; break;
        case 4: {
          const int p = a + up - c, pa = std::abs(p - a), pb = std::abs(p - up), pc = std::abs(p - c);
          pred = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c);
          break;
        }
        default: break;
      }
      cur[i] = uint8_t(in[i] + pred);
    }
    for (int x = 0; x < img.width; ++x)
      for (int k = 0; k < 3; ++k) img.rgb.push_back(cur[x * channels + k]);
    std::swap(prev, cur);
  }
  return img;
}

size_t pixels_near(const Image& img, int r, int g, int b) {
  size_t n = 0;
  for (size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    n += std::abs(img.rgb[i] - r) + std::abs(img.rgb[i + 1] - g) + std::abs(img.rgb[i + 2] - b) < 24;
  return n;
}

class ReportInChromium : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kChromium)) GTEST_SKIP() << "chromium is not installed (apt-get install -y chromium)";
  }
  Browser browser;
};

TEST_F(ReportInChromium, RendersWithoutConsoleMessagesAndIsNotBlank) {
  const fs::path page = browser.dir / "report.html";
  std::ofstream(page) << model_report_html(test::lenet5({}), "LeNet-5, 95% sparse ternary");

  ASSERT_EQ(browser.run(page, "--dump-dom"), 0) << read_text(browser.dir / "err.txt");
  EXPECT_TRUE(browser.console_lines().empty()) << browser.console_lines().front();
  const std::string dom = read_text(browser.dir / "out.txt");
  size_t svgs = 0;
  for (size_t at = dom.find("<svg"); at != std::string::npos; at = dom.find("<svg", at + 1)) ++svgs;
  EXPECT_EQ(svgs, 9u);
  EXPECT_NE(dom.find("Weight symbols"), std::string::npos);

  const fs::path png = browser.dir / "shot.png";
  ASSERT_EQ(browser.run(page, "--screenshot=" + png.string()), 0) << read_text(browser.dir / "err.txt");
  EXPECT_TRUE(browser.console_lines().empty()) << browser.console_lines().front();
  const Image img = decode_png(read_text(png));
  ASSERT_EQ(img.width, 1400);
  ASSERT_GT(img.height, 0);
  // The bars' colours (#3b6fb6 blue, #e08a2c orange, #4a9a5b green) must be on screen.
  EXPECT_GT(pixels_near(img, 0x3b, 0x6f, 0xb6), 10000u);
  EXPECT_GT(pixels_near(img, 0xe0, 0x8a, 0x2c), 2000u);
  EXPECT_GT(pixels_near(img, 0x4a, 0x9a, 0x5b), 1000u);
}

// The harness itself must see console errors and blank pages, or the test above proves nothing.
TEST_F(ReportInChromium, HarnessDetectsConsoleErrorsAndBlankPages) {
  const fs::path page = browser.dir / "bad.html";
  std::ofstream(page) << "<!DOCTYPE html><html><body><script>console.error('broken');</script></body></html>";
  const fs::path png = browser.dir / "blank.png";
  ASSERT_EQ(browser.run(page, "--screenshot=" + png.string()), 0);
  ASSERT_EQ(browser.console_lines().size(), 1u);
  EXPECT_NE(browser.console_lines()[0].find("broken"), std::string::npos);
  const Image img = decode_png(read_text(png));
  ASSERT_EQ(img.width, 1400);
  EXPECT_EQ(pixels_near(img, 0x3b, 0x6f, 0xb6), 0u);
  EXPECT_EQ(pixels_near(img, 255, 255, 255), size_t(img.width) * img.height);
}

}  // namespace
}  // namespace stern
