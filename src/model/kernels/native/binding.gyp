{
  "targets": [
    {
      "target_name": "causalmm_gemm",
      "sources": ["addon.cc", "gemm-avx512.cc", "gemm-avx2.cc", "gemm-portable.cc"],
      "cflags_cc": ["-O3", "-std=gnu++17", "-ffp-contract=fast", "-fno-math-errno", "-Wall", "-Wno-ignored-attributes", "-Wno-maybe-uninitialized"],
      "cflags_cc!": ["-fno-exceptions"],
      "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=fast"]}
    }
  ]
}
