package taxii

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes registers every route. Each TAXII path is served with and without its
// trailing slash (§3.1 asks clients for the slash; MISP and OpenCTI drop it),
// never redirected.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Pre(collapseSlashes)
	e.Use(s.access)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	metricsHandler := echo.WrapHandler(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	e.GET("/metrics", metricsHandler)

	// no echo.Group: a group with middleware registers a catch-all 404 route
	// that would shadow the router's 405 answers
	both := func(method, path string, h echo.HandlerFunc) {
		e.Add(method, path, h, s.authenticate)
		e.Add(method, path+"/", h, s.authenticate)
	}
	// §4.1 discovery, §4.2 API root, §4.3 status
	both(http.MethodGet, "/taxii2", negotiate(false, s.getDiscovery))
	both(http.MethodGet, "/:root", negotiate(false, s.getAPIRoot))
	both(http.MethodGet, "/:root/status/:status", negotiate(false, s.getStatus))
	// §5.1 collections, §5.2 collection
	both(http.MethodGet, "/:root/collections", negotiate(false, s.getCollections))
	both(http.MethodGet, "/:root/collections/:collection", negotiate(false, s.getCollection))
	// §5.3 manifest, §5.4 get objects, §5.5 add objects
	both(http.MethodGet, "/:root/collections/:collection/manifest", negotiate(true, s.getManifest))
	both(http.MethodGet, "/:root/collections/:collection/objects", negotiate(true, s.getObjects))
	both(http.MethodPost, "/:root/collections/:collection/objects", negotiate(false, s.feedPool(s.addObjects)))
	// §5.6 get an object, §5.7 delete an object, §5.8 versions
	both(http.MethodGet, "/:root/collections/:collection/objects/:object", negotiate(true, s.getObject))
	both(http.MethodDelete, "/:root/collections/:collection/objects/:object", negotiate(false, s.deleteObject))
	both(http.MethodGet, "/:root/collections/:collection/objects/:object/versions", negotiate(false, s.getVersions))
	// MISP server sync (misp.go)
	s.mispRoutes(e)
	// MISP feeds of collections (mispfeed.go)
	s.mispFeedRoutes(e)
	// sightings and false positives (sightings.go)
	s.sightingRoutes(e)
	return e
}
