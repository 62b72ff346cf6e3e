// Float math with accuracy that does not depend on the driver: Vulkan only
// bounds exp/log/tanh loosely (log: 2^-21 absolute near 1; tanh: whatever its
// exp-based formula gives), so the functions the kernels' results depend on are
// built here from exp and polynomials with known error. Each is accurate to a
// few float ulps (absolute for values near 0, relative elsewhere); the tests
// compare them against double-precision references.
#ifndef TENSORSCOPE_SHADERS_MATH_GLSL
#define TENSORSCOPE_SHADERS_MATH_GLSL

const float kSqrtHalf = 0.70710678118654752;   // 1/sqrt(2)
const float kInvSqrtTwoPi = 0.39894228040143268; // 1/sqrt(2*pi)
const float kLn2 = 0.69314718055994531;

// True when x is neither NaN nor infinite. Tests the exponent bits, which no
// fast-math assumption can fold away (unlike isnan/isinf).
bool IsFinite(float x) { return (floatBitsToUint(x) & 0x7f800000u) != 0x7f800000u; }

// 1 / (1 + exp(-z)) without overflow: exp only ever sees -|z|.
float Sigmoid(float z) {
  float e = exp(-abs(z));
  float s = 1.0 / (1.0 + e);
  return z >= 0.0 ? s : e * s;
}

// tanh(z). For |z| >= 0.5: (1 - e) / (1 + e) with e = exp(-2|z|) <= 1/e, no
// overflow for any z (the driver's tanh may compute exp(2z) and give NaN) and
// no cancellation in 1 - e. Below 0.5: z + z^3 Q(z^2), Q of degree 4 fitted
// to (tanh(z) - z) / z^3 (fit error 3.5e-10 relative), so tiny inputs keep
// their relative accuracy.
float Tanh(float z) {
  float a = abs(z);
  if (a < 0.5) {
    float s = z * z;
    float q = -6.647490431e-03;
    q = q * s + 2.129799314e-02;
    q = q * s - 5.389919132e-02;
    q = q * s + 1.333296448e-01;
    q = q * s - 3.333332837e-01;
    return z + z * s * q;
  }
  float e = exp(-2.0 * a);
  float t = (1.0 - e) / (1.0 + e);
  return z >= 0.0 ? t : -t;
}

// log(1 + f) for f in [sqrt(1/2) - 1, 1], as 2 atanh(s) with s = f / (2 + f)
// (|s| <= 1/3): the odd Taylor series of atanh, truncated after s^19 (next term
// below 1e-10). No cancellation, so the relative error is a few ulps.
float Log1pSeries(float f) {
  float s = f / (2.0 + f);
  float s2 = s * s;
  float r = 1.0 / 19.0;
  r = r * s2 + 1.0 / 17.0;
  r = r * s2 + 1.0 / 15.0;
  r = r * s2 + 1.0 / 13.0;
  r = r * s2 + 1.0 / 11.0;
  r = r * s2 + 1.0 / 9.0;
  r = r * s2 + 1.0 / 7.0;
  r = r * s2 + 1.0 / 5.0;
  r = r * s2 + 1.0 / 3.0;
  return 2.0 * s + 2.0 * s * (s2 * r);
}

// log(1 + x) for x in [0, 1] (the softplus tail of binary cross-entropy).
float Log1p(float x) { return Log1pSeries(x); }

// Natural log of a positive normal float: x = m * 2^e with m in [sqrt(1/2), sqrt(2)),
// log x = e ln 2 + log(1 + (m - 1)); m - 1 is exact, so values near 1 keep
// their relative accuracy. NaN, infinities, zero and negatives go to the
// builtin log, so they still give NaN / +-Inf.
float PreciseLog(float x) {
  if (!(x > 0.0) || !IsFinite(x)) return log(x);
  int e;
  float m = frexp(x, e);  // m in [0.5, 1)
  if (m < kSqrtHalf) {
    m *= 2.0;
    e -= 1;
  }
  return float(e) * kLn2 + Log1pSeries(m - 1.0);
}

// exp(w^2) erfc(w) for w in [1, 10], as a polynomial in t = 1 / (1 + w) of
// degree 10, fitted over that range (weighted least squares iterated toward
// minimax, in long double; fit error 2.3e-10 relative).
float ScaledErfcTail(float w) {
  float t = 1.0 / (1.0 + w);
  float r = -3.243615389e+00;
  r = r * t + 1.069959641e+01;
  r = r * t - 1.464030647e+01;
  r = r * t + 9.927563667e+00;
  r = r * t - 2.643469810e+00;
  r = r * t - 2.071208805e-01;
  r = r * t - 3.489861488e-01;
  r = r * t + 2.880670726e-01;
  r = r * t + 5.638523102e-01;
  r = r * t + 5.642003417e-01;
  r = r * t - 1.463071584e-07;
  return r;
}

// erf(z) for |z| < 1: z * P(z^2), P of degree 6 fitted to erf(z)/z over
// z in [0, 1] (fit error 1.4e-9 relative).
float ErfCore(float z) {
  float s = z * z;
  float p = 7.889285189e-05;
  p = p * s - 8.020895184e-04;
  p = p * s + 5.189542193e-03;
  p = p * s - 2.685444802e-02;
  p = p * s + 1.128360033e-01;
  p = p * s - 3.761262596e-01;
  p = p * s + 1.128379107e+00;
  return z * p;
}

// Phi(z), the standard normal CDF: erfc(w) / 2 with w = -z / sqrt 2, from
// erf(w) = w P(w^2) for |w| < 1 and erfc(|w|) = exp(-w^2) R(|w|) beyond, so
// both tails keep their relative accuracy (the small side is never formed by
// cancellation). The Gaussian factor is exp(-z*z/2) from z itself: going
// through w would add the rounding of w, doubled by the square. Measured
// against double erfc (tests/test_kernels.cpp, GELU on a dense grid): a few
// ulps for |z| < 4, growing with z^2/2 beyond as the argument of exp does.
float NormalCdf(float z) {
  float w = -z * kSqrtHalf;
  float a = abs(w);
  if (a < 1.0) return 0.5 - 0.5 * ErfCore(w);
  float tail = a >= 10.0 ? 0.0 : 0.5 * exp(-0.5 * z * z) * ScaledErfcTail(a);
  return w > 0.0 ? tail : 1.0 - tail;
}

#endif
