// Package report turns acceptance runs into evidence a certifier can keep:
// results.json (versioned schema), junit.xml, report.html (one offline file, charts as
// inline SVG drawn with gonum/plot, verdict first) and SHA256SUMS over them.
//
// It may import bench, profiles, checks (for the host fingerprint), internal/atomicfile
// and well-kept libraries (HdrHistogram, gonum/plot).
package report
