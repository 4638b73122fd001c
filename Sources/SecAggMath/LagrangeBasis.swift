/// Lagrange interpolation through a fixed set of distinct x-coordinates in GF(2^61 − 1), in barycentric form.
///
/// For nodes x_1…x_t the barycentric weights w_i = 1 / ∏_{j≠i} (x_i − x_j) are computed once (O(t²)
/// multiplications and a single field inversion). The coefficients that evaluate any polynomial of degree < t
/// at a point z ∉ {x_i} from its values y_i,
///
///     f(z) = Σ_i c_i(z) · y_i,   c_i(z) = ℓ(z) · w_i / (z − x_i),   ℓ(z) = ∏_j (z − x_j),
///
/// then cost O(t) per point and are reused for every chunk of a secret. Reconstruction is the point z = 0.
struct LagrangeBasis {
    /// The interpolation nodes, as field elements.
    let nodes: [UInt64]

    /// The barycentric weights w_i.
    let weights: [UInt64]

    /// Prepares interpolation through `nodes`.
    ///
    /// - Precondition: the nodes are distinct canonical field elements.
    init(nodes: [UInt64]) {
        var denominators = [UInt64](repeating: 1, count: nodes.count)
        nodes.withUnsafeBufferPointer { x in
            denominators.withUnsafeMutableBufferPointer { d in
                for i in 0..<x.count {
                    var product: UInt64 = 1
                    let xi = x[i]
                    for j in 0..<x.count where j != i {
                        product = PrimeField.multiply(product, PrimeField.subtract(xi, x[j]))
                    }
                    d[i] = product
                }
            }
        }
        PrimeField.invertAll(&denominators)
        self.nodes = nodes
        self.weights = denominators
    }

    /// The coefficients c_i(point) such that f(point) = Σ c_i · f(x_i) for every polynomial f of degree < t.
    ///
    /// - Precondition: `point` is a canonical element different from every node.
    func coefficients(at point: UInt64) -> [UInt64] {
        var differences = nodes.map { PrimeField.subtract(point, $0) }
        let vanishing = differences.reduce(1 as UInt64) { PrimeField.multiply($0, $1) }
        PrimeField.invertAll(&differences)
        for index in differences.indices {
            differences[index] = PrimeField.multiply(
                vanishing, PrimeField.multiply(weights[index], differences[index]))
        }
        return differences
    }
}
