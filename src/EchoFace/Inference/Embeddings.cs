using System.Numerics.Tensors;

namespace EchoFace.Inference;

/// <summary>Post-processing shared by every embedding model (face and speaker): templates are unit vectors so a dot product is the cosine.</summary>
public static class Embeddings
{
    public static void Normalize(Span<float> v)
    {
        var norm = TensorPrimitives.Norm(v);
        if (norm > 0) TensorPrimitives.Divide(v, norm, v);
    }
}
