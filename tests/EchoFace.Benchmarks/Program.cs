// BenchmarkDotNet entry: `dotnet run -c Release --project tests/EchoFace.Benchmarks -- --filter '*'` (docs/benchmarks.md).
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(EchoFace.Benchmarks.FaceStageBenchmarks).Assembly).Run(args);
