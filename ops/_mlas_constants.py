"""The constants of MLAS's exp, erf, tanh and logistic kernels, of ONNX Runtime's Gelus and of glibc's logf: one
table for the NumPy kernels (ops.elementwise, ops.activation, ops.contrib_activation, ops.softmax) and their
compiled twins (ops._jit_*). The kernels round the MLAS ones to float32 before use, as MLAS stores them.
"""

# MlasExpConstants (compute.cpp).
EXP_LOWER = -103.9720840454
ROUNDING_BIAS = 12582912.0  # 1.5 * 2^23: adding it rounds to an integer
LOG2_RECIPROCAL = 1.44269504088896341
LOG2_HIGH = -6.93145752e-1
LOG2_LOW = -1.42860677e-6
EXP_POLY = (float.fromhex("0x1.694000p-10"), float.fromhex("0x1.125edcp-7"), float.fromhex("0x1.555b5ap-5"),
            float.fromhex("0x1.555450p-3"), float.fromhex("0x1.fffff6p-2"), 1.0)

# MlasErfConstants (erf.cpp); its exp step shares LOG2_* above.
ERF_UPPER = 3.925
ERF_SPLIT = 0.921875
ERF_SMALL = (-5.99104969e-4, 4.99339588e-3, -2.67667342e-2, 1.12818025e-1, -3.76124859e-1, 1.28379151e-1)
ERF_BIG = (1.72948930e-5, -3.83208680e-4, 3.88393435e-3, -2.42545605e-2, 1.06777847e-1, 6.34846687e-1, 1.28717512e-1)
ERF_EXP_LOWER = -88.3762626647949
ERF_EXP_C = 1.25829120e+7
ERF_EXP_POLY = (1.38319808e-3, 8.37550033e-3, 4.16689515e-2, 1.66664466e-1, 4.99999851e-1, 1.0, 1.0)

# MlasLogisticConstants (logistic.cpp).
LOGISTIC_RANGE = 18.0
LOGISTIC_ALPHA = (4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05, 8.51377133304701e-03,
                  2.48287947061529e-01)
LOGISTIC_BETA = (6.10247389755681e-13, 5.76102136993427e-09, 6.29106785017040e-06, 1.70198817374094e-03,
                 1.16817656904453e-01, 9.93151921023180e-01)

# MlasTanhConstants (tanh.cpp).
TANH_RANGE = 9.0
TANH_ALPHA = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
              1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)
TANH_BETA = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)

# ONNX Runtime's Gelus: erf(x * M_SQRT1_2), tanh(x * (C * x * x + sqrt(2/pi))) with C = 0.044715 * sqrt(2/pi).
GELU_SQRT1_2 = 0.70710678118654752440
GELU_SQRT_2_OVER_PI = 0.7978845608028654
GELU_FAST_C = 0.035677408136300125

# glibc logf (e_logf.c / e_logf_data.c), which ORT's std::log(float) calls: 16-entry table of
# (1/c, log c), then a degree-3 polynomial in double. It is not always correctly rounded, so rounding
# a double log differs from it in ~1e-4 of rows.
LOGF_INVC = tuple(float.fromhex(h) for h in (
    "0x1.661ec79f8f3bep+0", "0x1.571ed4aaf883dp+0", "0x1.49539f0f010bp+0", "0x1.3c995b0b80385p+0",
    "0x1.30d190c8864a5p+0", "0x1.25e227b0b8eap+0", "0x1.1bb4a4a1a343fp+0", "0x1.12358f08ae5bap+0",
    "0x1.0953f419900a7p+0", "0x1p+0", "0x1.e608cfd9a47acp-1", "0x1.ca4b31f026aap-1",
    "0x1.b2036576afce6p-1", "0x1.9c2d163a1aa2dp-1", "0x1.886e6037841edp-1", "0x1.767dcf5534862p-1"))
LOGF_LOGC = tuple(float.fromhex(h) for h in (
    "-0x1.57bf7808caadep-2", "-0x1.2bef0a7c06ddbp-2", "-0x1.01eae7f513a67p-2", "-0x1.b31d8a68224e9p-3",
    "-0x1.6574f0ac07758p-3", "-0x1.1aa2bc79c81p-3", "-0x1.a4e76ce8c0e5ep-4", "-0x1.1973c5a611cccp-4",
    "-0x1.252f438e10c1ep-5", "0x0p+0", "0x1.aa5aa5df25984p-5", "0x1.c5e53aa362eb4p-4",
    "0x1.526e57720db08p-3", "0x1.bc2860d22477p-3", "0x1.1058bc8a07ee1p-2", "0x1.4043057b6ee09p-2"))
LOGF_LN2 = float.fromhex("0x1.62e42fefa39efp-1")
LOGF_A = tuple(float.fromhex(h) for h in ("-0x1.00ea348b88334p-2", "0x1.5575b0be00b6ap-2", "-0x1.ffffef20a4123p-2"))
