/**
 * @fileoverview Small dense float64 linear algebra for second-order weight rounding (GPTQ):
 * Cholesky factorization and the inverse of a symmetric positive definite matrix through it.
 * Matrices are row-major n×n Float64Arrays.
 */

/** Lower Cholesky factor L of an SPD matrix (A = L·Lᵀ), or undefined when A is not positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j]!;
    for (let k = 0; k < j; k++) d -= l[rj + k]! * l[rj + k]!;
    if (!(d > 0)) return undefined;
    const ljj = Math.sqrt(d);
    l[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + j]!;
      for (let k = 0; k < j; k++) s -= l[ri + k]! * l[rj + k]!;
      l[ri + j] = s / ljj;
    }
  }
  return l;
}

/** A⁻¹ from A's lower Cholesky factor L: (L⁻¹)ᵀ·L⁻¹, symmetric by construction. */
export function choleskyInverse(l: Float64Array, n: number): Float64Array {
  // Invert L in place into m (lower triangular), row by row: m = L⁻¹.
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    m[ri + i] = 1 / l[ri + i]!;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[ri + k]! * m[k * n + j]!;
      m[ri + j] = -s / l[ri + i]!;
    }
  }
  // A⁻¹[i][j] = Σ_{k ≥ max(i,j)} m[k][i]·m[k][j].
  const inv = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let i = 0; i <= k; i++) {
      const mki = m[rk + i]!;
      if (mki === 0) continue;
      const ri = i * n;
      for (let j = 0; j <= i; j++) inv[ri + j] += mki * m[rk + j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) inv[j * n + i] = inv[i * n + j]!;
  return inv;
}

/** Upper Cholesky factor U of an SPD matrix (A = Uᵀ·U), the form GPTQ walks row by row; undefined when not positive definite. */
export function upperCholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = cholesky(a, n);
  if (!l) return undefined;
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) u[j * n + i] = l[i * n + j]!;
  return u;
}
