using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Media;

namespace EchoFace.Tests.Inference;

/// <summary>The API's workers share one session per model: the same answers as a pipeline of its own, from two threads at once.</summary>
[Trait("Category", "Integration")]
public class SharedSessionTests
{
    [Fact]
    public void Pipelines_on_shared_sessions_answer_as_their_own_concurrently_and_the_model_is_freed_with_its_last_handle()
    {
        var factory = new InferenceSessionFactory(TestEnvironment.Manifest);
        var photo = ImageDecoder.DecodeFile(TestEnvironment.Data("faces", "photos", "df_jeff_bezos", "img21.jpg"));
        float[] expected;
        using (var own = new FacePipeline(factory)) expected = own.Analyze(photo).Single().Embedding!;

        var a = new FacePipeline(factory, shareSessions: true);
        var b = new FacePipeline(factory, shareSessions: true);
        var results = new float[2][][];
        Parallel.For(0, 2, i =>
        {
            var p = i == 0 ? a : b;
            results[i] = [.. Enumerable.Range(0, 6).Select(_ => p.Analyze(photo).Single().Embedding!)];
        });
        Assert.All(results.SelectMany(r => r), e => Assert.Equal(expected, e));

        a.Dispose(); // b still holds the models
        Assert.Equal(expected, b.Analyze(photo).Single().Embedding!);
        var handle = factory.CreateShared("fr_detect");
        b.Dispose();
        handle.Dispose();
        Assert.Null(handle.Share()); // the last handle went: the session is freed
        using var c = new FacePipeline(factory, shareSessions: true); // and loaded again when asked for
        Assert.Equal(expected, c.Analyze(photo).Single().Embedding!);
    }
}
