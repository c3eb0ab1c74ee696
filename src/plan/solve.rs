//! Non-negative regularised least squares, the linear algebra of the plan.
//!
//! Minimises ‖W(Ax − b)‖² + λ‖Dx‖² subject to x ≥ 0, where D takes first
//! differences (a smooth lead schedule) and W weights the rows. The normal
//! equations M = AᵀW²A + λDᵀD are solved by Cholesky (nalgebra); when the
//! unconstrained optimum has negative entries, the Lawson–Hanson active-set
//! method fixes them at zero one at a time until the KKT conditions hold.

use nalgebra::{DMatrix, DVector};

/// A least-squares problem in normal-equation form.
pub struct Problem {
    /// AᵀW²A + λDᵀD.
    pub normal: DMatrix<f64>,
    /// AᵀW²b.
    pub rhs: DVector<f64>,
}

impl Problem {
    /// Builds the normal equations from weighted rows (A, b, w) and a
    /// smoothness weight λ. `free[j] == false` pins x_j at 0.
    pub fn new(a: &DMatrix<f64>, b: &DVector<f64>, w: &DVector<f64>, lambda: f64) -> Problem {
        let n = a.ncols();
        let wa = DMatrix::from_fn(a.nrows(), n, |i, j| a[(i, j)] * w[i]);
        let wb = b.component_mul(w);
        let mut normal = wa.transpose() * &wa;
        // λ DᵀD for first differences: tridiagonal (1, −1; −1, 2, −1; …).
        for j in 1..n {
            normal[(j, j)] += lambda;
            normal[(j - 1, j - 1)] += lambda;
            normal[(j, j - 1)] -= lambda;
            normal[(j - 1, j)] -= lambda;
        }
        let rhs = wa.transpose() * wb;
        Problem { normal, rhs }
    }

    /// Solves over the free set `passive` (others are 0); `None` if the
    /// subsystem is singular.
    fn solve_on(&self, passive: &[usize]) -> Option<DVector<f64>> {
        let k = passive.len();
        let n = self.rhs.len();
        let mut x = DVector::zeros(n);
        if k == 0 {
            return Some(x);
        }
        let sub = DMatrix::from_fn(k, k, |i, j| self.normal[(passive[i], passive[j])]);
        let rhs = DVector::from_fn(k, |i, _| self.rhs[passive[i]]);
        let sol = match sub.clone().cholesky() {
            Some(c) => c.solve(&rhs),
            None => sub.lu().solve(&rhs)?,
        };
        for (i, &j) in passive.iter().enumerate() {
            x[j] = sol[i];
        }
        Some(x)
    }

    /// The non-negative optimum, with `pinned` entries held at 0.
    pub fn solve_nonnegative(&self, pinned: &[bool]) -> DVector<f64> {
        let n = self.rhs.len();
        let candidates: Vec<usize> = (0..n).filter(|j| !pinned[*j]).collect();
        // Most plans need no constraint: try the free optimum first.
        if let Some(x) = self.solve_on(&candidates)
            && x.iter().all(|v| *v >= 0.0)
        {
            return x;
        }
        self.lawson_hanson(&candidates)
    }

    fn lawson_hanson(&self, candidates: &[usize]) -> DVector<f64> {
        let n = self.rhs.len();
        let mut passive = vec![false; n];
        let mut x = DVector::zeros(n);
        let tol = 1e-12 * self.rhs.amax().max(1.0);
        for _ in 0..(3 * n + 10) {
            // Gradient of the objective's negative: w = rhs − M x.
            let w = &self.rhs - &self.normal * &x;
            let next = candidates
                .iter()
                .copied()
                .filter(|j| !passive[*j])
                .max_by(|a, b| w[*a].total_cmp(&w[*b]));
            let Some(j) = next.filter(|j| w[*j] > tol) else {
                break;
            };
            passive[j] = true;
            loop {
                let set: Vec<usize> = (0..n).filter(|i| passive[*i]).collect();
                let Some(z) = self.solve_on(&set) else {
                    passive[j] = false;
                    break;
                };
                if set.iter().all(|i| z[*i] > 0.0) {
                    x = z;
                    break;
                }
                // Step towards z until the first variable hits zero.
                let mut alpha = 1.0;
                for &i in &set {
                    if z[i] <= 0.0 {
                        let a = x[i] / (x[i] - z[i]);
                        if a < alpha {
                            alpha = a;
                        }
                    }
                }
                for &i in &set {
                    x[i] += alpha * (z[i] - x[i]);
                    if x[i] <= 1e-15 {
                        x[i] = 0.0;
                        passive[i] = false;
                    }
                }
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_system_is_solved_exactly() {
        let a = DMatrix::from_row_slice(3, 3, &[2.0, 0.0, 0.0, 1.0, 3.0, 0.0, 0.0, 1.0, 4.0]);
        let x = DVector::from_vec(vec![1.0, 2.0, 3.0]);
        let b = &a * &x;
        let p = Problem::new(&a, &b, &DVector::from_element(3, 1.0), 0.0);
        let got = p.solve_nonnegative(&[false; 3]);
        assert!((got - x).amax() < 1e-12);
    }

    #[test]
    fn negative_solutions_are_clipped_by_the_active_set() {
        // min (x0 − 1)² + (x1 + 1)² with x ≥ 0: x = (1, 0).
        let a = DMatrix::identity(2, 2);
        let b = DVector::from_vec(vec![1.0, -1.0]);
        let p = Problem::new(&a, &b, &DVector::from_element(2, 1.0), 0.0);
        let x = p.solve_nonnegative(&[false; 2]);
        assert!((x[0] - 1.0).abs() < 1e-12 && x[1] == 0.0, "{x}");
    }

    #[test]
    fn the_kkt_conditions_hold_on_a_coupled_problem() {
        // Columns overlap, so clipping one changes the others.
        let a = DMatrix::from_row_slice(3, 3, &[1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0]);
        let b = DVector::from_vec(vec![2.0, -1.0, 3.0]);
        let p = Problem::new(&a, &b, &DVector::from_element(3, 1.0), 0.1);
        let x = p.solve_nonnegative(&[false; 3]);
        let grad = &p.rhs - &p.normal * &x;
        for i in 0..3 {
            assert!(x[i] >= 0.0);
            // Free variables have zero gradient; clipped ones point outwards.
            if x[i] > 0.0 {
                assert!(grad[i].abs() < 1e-9, "{grad}");
            } else {
                assert!(grad[i] <= 1e-9, "{grad}");
            }
        }
    }

    #[test]
    fn pinned_variables_stay_at_zero() {
        let a = DMatrix::identity(2, 2);
        let b = DVector::from_vec(vec![1.0, 1.0]);
        let p = Problem::new(&a, &b, &DVector::from_element(2, 1.0), 0.0);
        let x = p.solve_nonnegative(&[true, false]);
        assert_eq!(x[0], 0.0);
        assert!((x[1] - 1.0).abs() < 1e-12);
    }
}
