"""Constants of the MLAS and libm routines the kernels reproduce, shared by the NumPy kernels and their compiled
twins (ops/_jit_*.py): each written once."""
from __future__ import annotations

# MlasExpConstants (compute.cpp).
_EXP_LOWER = -103.9720840454
_ROUNDING_BIAS = 12582912.0  # 1.5 * 2^23: adding it rounds to an integer
_LOG2_RECIPROCAL = 1.44269504088896341
_LOG2_HIGH = -6.93145752e-1
_LOG2_LOW = -1.42860677e-6
_EXP_POLY = (float.fromhex("0x1.694000p-10"), float.fromhex("0x1.125edcp-7"), float.fromhex("0x1.555b5ap-5"),
             float.fromhex("0x1.555450p-3"), float.fromhex("0x1.fffff6p-2"), 1.0)


# glibc logf (e_logf.c / e_logf_data.c), which ORT's std::log(float) calls: 16-entry table of
# (1/c, log c), then a degree-3 polynomial in double. It is not always correctly rounded, so rounding
# a double log differs from it in ~1e-4 of rows.
_LOGF_INVC = ("0x1.661ec79f8f3bep+0", "0x1.571ed4aaf883dp+0", "0x1.49539f0f010bp+0", "0x1.3c995b0b80385p+0",
              "0x1.30d190c8864a5p+0", "0x1.25e227b0b8eap+0", "0x1.1bb4a4a1a343fp+0", "0x1.12358f08ae5bap+0",
              "0x1.0953f419900a7p+0", "0x1p+0", "0x1.e608cfd9a47acp-1", "0x1.ca4b31f026aap-1",
              "0x1.b2036576afce6p-1", "0x1.9c2d163a1aa2dp-1", "0x1.886e6037841edp-1", "0x1.767dcf5534862p-1")
_LOGF_LOGC = ("-0x1.57bf7808caadep-2", "-0x1.2bef0a7c06ddbp-2", "-0x1.01eae7f513a67p-2", "-0x1.b31d8a68224e9p-3",
              "-0x1.6574f0ac07758p-3", "-0x1.1aa2bc79c81p-3", "-0x1.a4e76ce8c0e5ep-4", "-0x1.1973c5a611cccp-4",
              "-0x1.252f438e10c1ep-5", "0x0p+0", "0x1.aa5aa5df25984p-5", "0x1.c5e53aa362eb4p-4",
              "0x1.526e57720db08p-3", "0x1.bc2860d22477p-3", "0x1.1058bc8a07ee1p-2", "0x1.4043057b6ee09p-2")
_LOGF_LN2 = float.fromhex("0x1.62e42fefa39efp-1")
_LOGF_A = tuple(float.fromhex(h) for h in ("-0x1.00ea348b88334p-2", "0x1.5575b0be00b6ap-2", "-0x1.ffffef20a4123p-2"))
