"""The constants of MLAS's exp, erf, tanh and logistic kernels and of ONNX Runtime's Gelus: one table for the
NumPy kernels (ops.elementwise, ops.activation, ops.contrib_activation) and their compiled twins (ops._jit_*).
The kernels round each to float32 before use, as MLAS stores them.
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
