using MathNet.Numerics.LinearAlgebra;

namespace EchoFace.Recommend;

/// <summary>
/// Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren and Volinsky 2008): preference 1 for a bought item,
/// confidence 1 + alpha·log(1 + count). Written here because ML.NET's recommender package is not on the mirror; MathNet solves the
/// factor-sized systems.
/// </summary>
public sealed class ImplicitAls
{
    public sealed record Options(int Factors = 32, int Iterations = 12, float Regularization = 0.1f, float Alpha = 10f, int Seed = 7);

    public ImplicitAls(int factors, float[] customerFactors, float[] itemFactors)
    {
        Factors = factors;
        CustomerFactors = customerFactors;
        ItemFactors = itemFactors;
    }

    public int Factors { get; }
    /// <summary>Row-major customers x factors (zeros for a customer with no history).</summary>
    public float[] CustomerFactors { get; }
    /// <summary>Row-major items x factors.</summary>
    public float[] ItemFactors { get; }

    public static ImplicitAls Train(PurchaseHistory history, Options options)
    {
        int f = options.Factors, users = history.CustomerCount, items = history.ItemCount;
        var random = new Random(options.Seed);
        var x = Matrix<double>.Build.Dense(users, f);
        var y = Matrix<double>.Build.Dense(items, f, (_, _) => (random.NextDouble() - 0.5) * 0.1);
        // each side's rows: (other index, confidence)
        var byUser = new List<(int, double)>[users];
        var byItem = new List<(int, double)>[items];
        for (var i = 0; i < items; i++) byItem[i] = [];
        for (var u = 0; u < users; u++)
        {
            byUser[u] = [];
            if (history.For(u) is not { } h) continue;
            for (var k = 0; k < h.Items.Length; k++)
            {
                var c = 1 + options.Alpha * Math.Log(1 + h.Counts[k]);
                byUser[u].Add((h.Items[k], c));
                byItem[h.Items[k]].Add((u, c));
            }
        }
        for (var it = 0; it < options.Iterations; it++)
        {
            Solve(x, y, byUser, options.Regularization);
            Solve(y, x, byItem, options.Regularization);
        }
        return new ImplicitAls(f, ToFloat(x), ToFloat(y));
    }

    /// <summary>For every row r of <paramref name="target"/>: (FᵀF + Fᵀ(C−I)F + λI) x = Fᵀ C p with F the other side's factors.</summary>
    private static void Solve(Matrix<double> target, Matrix<double> fixedSide, List<(int Index, double Confidence)>[] rows, double lambda)
    {
        int f = fixedSide.ColumnCount;
        var gram = fixedSide.TransposeThisAndMultiply(fixedSide);
        Parallel.For(0, rows.Length, r =>
        {
            if (rows[r].Count == 0) { target.SetRow(r, new double[f]); return; }
            var a = gram.Clone();
            var b = Vector<double>.Build.Dense(f);
            foreach (var (index, confidence) in rows[r])
            {
                var v = fixedSide.Row(index);
                a += (confidence - 1) * v.OuterProduct(v);
                b += confidence * v;
            }
            for (var d = 0; d < f; d++) a[d, d] += lambda;
            target.SetRow(r, a.Cholesky().Solve(b));
        });
    }

    private static float[] ToFloat(Matrix<double> m)
    {
        var result = new float[m.RowCount * m.ColumnCount];
        for (var r = 0; r < m.RowCount; r++)
            for (var c = 0; c < m.ColumnCount; c++) result[r * m.ColumnCount + c] = (float)m[r, c];
        return result;
    }

    public void Score(int customer, Span<float> into)
    {
        if (customer < 0 || (customer + 1) * Factors > CustomerFactors.Length) { into.Clear(); return; }
        var u = CustomerFactors.AsSpan(customer * Factors, Factors);
        for (var i = 0; i < into.Length; i++)
            into[i] = System.Numerics.Tensors.TensorPrimitives.Dot(u, ItemFactors.AsSpan(i * Factors, Factors));
    }
}
