namespace EchoFace;

/// <summary>What kind of wrong an input is, for callers that answer with a status (the HTTP API); commands exit 2 for every kind.</summary>
/// <summary>Storage: the device's storage is full or failing writes (the request may succeed once it recovers).</summary>
public enum BadInputKind { Invalid, TooLarge, Unsupported, NotFound, Storage, Conflict }

/// <summary>Input the user gave is wrong (missing file, corrupt image, unknown id): commands exit 2 and store nothing.</summary>
public sealed class BadInputException(string message, Exception? inner = null, BadInputKind kind = BadInputKind.Invalid) : Exception(message, inner)
{
    public BadInputKind Kind { get; } = kind;

    public BadInputException(string message, BadInputKind kind) : this(message, null, kind) { }
}

/// <summary>A model file is missing, has the wrong hash or cannot be loaded: the message names the model and the set-up command.</summary>
public sealed class ModelException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>An external program the product relies on (ffmpeg) is missing or failed on its own: exit 1, the message names the set-up command.</summary>
public sealed class ToolException(string message, Exception? inner = null) : Exception(message, inner);
