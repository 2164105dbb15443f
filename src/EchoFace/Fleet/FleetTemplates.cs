using EchoFace.Face;
using EchoFace.Inference;
using EchoFace.Media;
using EchoFace.Recognition;

namespace EchoFace.Fleet;

/// <summary>
/// Templates for the fleet registry, computed on the fleet server by the devices' own face pipeline: one template per photo for
/// each face model the person's device group runs, with the checks `echoface enroll` makes (one face, enrolment quality).
/// </summary>
public static class FleetTemplates
{
    public static IReadOnlyList<FleetTemplate> Compute(InferenceSessionFactory factory, FaceOptions face, IReadOnlyList<string> models,
        IReadOnlyList<(string Source, RgbImage Image)> photos, int? faceIndex)
    {
        if (photos.Count == 0) throw new BadInputException("no photos given to enrol");
        var templates = new List<FleetTemplate>();
        foreach (var model in models.Distinct())
        {
            var entry = factory.Manifest.Get(model);
            if (entry.Task != "face-embed") throw new BadInputException($"model '{model}' is a {entry.Task} model, not a face embedder");
            var options = face.Copy();
            // each model alone: a device that fuses several takes a template of each
            (options.Embedder, options.Fusion, options.Budget) = (model, new FusionOptions(), 0);
            using var pipeline = new FacePipeline(factory, options);
            foreach (var (source, image) in photos)
            {
                var chosen = FaceRecognizer.EnrolFace(source, pipeline.Analyze(image), faceIndex, options.Quality.MinEnrolScore, options.FocusRatio);
                templates.Add(new FleetTemplate(model, factory.Manifest.Version(model), chosen.Quality.Score, source, chosen.Embedding!));
            }
        }
        return templates;
    }
}
