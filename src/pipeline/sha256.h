// SHA-256 (OpenSSL's libcrypto): the digest kept for the part of a dead letter's fields that was
// cut off, so the original can still be matched; the rows' digests of the audit chain.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace auditq::pipeline {

class Sha256 {
public:
  Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) { reset(); }
  void reset() { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(std::string_view bytes) { EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()); }
  // The hex digest of everything updated since the last reset; resets.
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(size_t{2} * n);
    for (unsigned int i = 0; i < n; ++i) {
      out.push_back(kHex[md[i] >> 4]);
      out.push_back(kHex[md[i] & 15]);
    }
    reset();
    return out;
  }

  // The raw digest of everything updated since the last reset; resets.
  void finish(unsigned char (&out)[32]) {
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), out, &n);
    reset();
  }

private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

} // namespace auditq::pipeline
