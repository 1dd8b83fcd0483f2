// Package report turns acceptance runs into evidence a certifier can keep:
// results.json (versioned schema), junit.xml, report.html (one offline file, charts as
// inline SVG drawn with gonum/plot, verdict first) and SHA256SUMS over them.
//
// It may import bench, profiles and checks (for the host fingerprint).
package report
