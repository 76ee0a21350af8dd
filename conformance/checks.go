package conformance

import "context"

// check is one conformance check: a stable id, the TAXII 2.1 section (and
// taxii.md §a item numbers in the title), and the function that runs it.
type check struct {
	id      string
	section string
	title   string
	fn      func(ctx context.Context, s *suite) error
}

// checks run in this order: reads first, then writes that change the run's
// objects (DELETE), then the checks over every response of the run.
var checks = []check{
	// A. transport and layout
	{"transport.https", "§8.2.2", "HTTPS with TLS 1.2 or later (item 1)", checkHTTPS},
	{"discovery.path", "§8.2.1", "discovery is served at /taxii2/ (item 2)", checkDiscoveryPath},
	{"apiroot.listed", "§4.2", "every API root in discovery answers; URLs unique (item 3)", checkAPIRoots},
	{"url.no-trailing-slash", "§3.1", "endpoints served without the trailing slash, never redirected (item 4)", checkNoTrailingSlash},
	{"http.no-user-agent", "§8.2.1", "a request without User-Agent is served (item 6)", checkNoUserAgent},
	// B. content negotiation
	{"accept.taxii21", "§3.1", "Accept application/taxii+json;version=2.1 is served (items 9, 10)", checkAcceptTAXII21},
	{"accept.bare", "§1.6.8.2", "Accept application/taxii+json without version is served as 2.1 (items 9, 10, 13)", checkAcceptBare},
	{"accept.lists", "§3.1", "Accept lists with q-values and spaces are served (item 10)", checkAcceptLists},
	{"accept.wildcard", "§3.1", "Accept */* and application/json, text/plain, */* are served (item 11)", checkAcceptWildcard},
	{"accept.406", "§3.1", "Accept offering only TAXII 2.0 gets 406 (item 11)", checkAccept406},
	{"accept.manifest-stix", "§5.3", "manifest serves its listed taxii+stix Accept value (item 12)", checkAcceptManifest},
	{"content-type.get-ignored", "§3.1", "a GET carrying a Content-Type is served (item 14)", checkGetWithContentType},
	{"content-type.post", "§3.1", "POST Content-Type compared as a media type, never 415 for TAXII 2.1 (item 14)", checkPostContentType},
	// C. authentication and authorization
	{"auth.missing", "§1.6.9", "no credentials: 401 with WWW-Authenticate (item 18)", checkAuthMissing},
	{"auth.invalid", "§1.6.9", "wrong credentials: 401 with WWW-Authenticate, 401/404 on collections (items 18, 19)", checkAuthInvalid},
	{"auth.basic-lowercase", "§8.2.2", "HTTP Basic with a lower-case scheme name (item 16)", checkAuthBasicCase},
	{"auth.write-forbidden", "§5.5", "POST to a can_write:false collection: 403 or 404 (item 52)", checkForbiddenWrite},
	{"auth.read-forbidden", "§5.4", "reading a can_read:false collection: 403 or 404 (items 44, 49)", checkForbiddenRead},
	{"auth.delete-matrix", "§5.7", "DELETE permission matrix (item 60)", checkDeleteMatrix},
	// D–G. discovery, API root, status, collections
	{"discovery.resource", "§4.1.1", "discovery resource: title, types, default in api_roots (items 22, 23)", checkDiscoveryResource},
	{"discovery.api-root-urls", "§4.1.1", "api_roots are HTTPS or single-slash relative URLs without query (item 24)", checkAPIRootURLs},
	{"apiroot.resource", "§4.2.1", "API root resource: title, versions with 2.1, max_content_length (item 27)", checkAPIRootResource},
	{"apiroot.unknown", "§4.2", "an unknown API root is 404", checkAPIRootUnknown},
	{"collections.resource", "§5.1.1", "collections resource: UUIDv4 ids, required fields, unique aliases (items 35, 37, 38, 90)", checkCollectionsResource},
	{"collections.order", "§3.3", "collections come in a consistent order (item 36)", checkCollectionsOrder},
	{"collection.resource", "§5.2", "each collection answers with its listed properties (item 37)", checkCollectionResource},
	{"collection.unknown", "§5.2", "an unknown collection is 404 (item 39)", checkCollectionUnknown},
	// J, F. add objects and status
	{"add.accepted", "§5.5", "Add Objects answers 202 with a status (items 50, 51)", checkAddObjects},
	{"status.resource", "§4.3.1", "the status is readable and consistent (items 29, 31–34)", checkStatusResource},
	{"status.unknown", "§4.3", "an unknown status is 404 (items 29, 30)", checkStatusUnknown},
	{"add.bundle", "§5.5", "a STIX bundle posted as the envelope is accepted (item 50)", checkAddBundle},
	{"add.duplicate", "§5.5", "re-posting a stored object is not a failure (item 53)", checkAddDuplicate},
	{"add.too-large", "§5.5", "a body over max_content_length is 413 (items 28, 54)", checkAddTooLarge},
	{"add.not-json", "§5.5", "a body that is not JSON is 400 or 422 (item 54)", checkAddNotJSON},
	// H, I, K, M. reading
	{"manifest.resource", "§5.3.1", "manifest: one record per version with id, date_added, version, media_type (items 41–43)", checkManifestResource},
	{"manifest.empty", "§5.3.1", "manifest without matches omits objects (item 42)", checkManifestEmpty},
	{"objects.envelope", "§5.4", "Get Objects returns an envelope of the latest versions (items 46–48)", checkObjectsEnvelope},
	{"objects.empty", "§3.7", "Get Objects without matches returns an empty envelope (item 47)", checkObjectsEmpty},
	{"headers.date-added", "§3.2", "X-TAXII-Date-Added-First/Last on every non-empty page (items 42, 46, 57, 62, 85)", checkDateHeaders},
	{"headers.date-added-empty", "§3.2", "empty pages carry no invalid date header (item 85)", checkEmptyPageHeaders},
	{"timestamps.format", "§2", "TAXII timestamps have exactly microseconds (item 84)", checkTimestamps},
	{"timestamps.date-added", "§3.2", "date_added is the server's time of adding, not a STIX date (item 86)", checkDateAddedClock},
	{"sort.date-added", "§3.3", "objects and manifest ascend by date_added (item 83)", checkSortDateAdded},
	{"object.get", "§5.6", "Get an Object returns its latest version (item 57)", checkObjectGet},
	{"object.unknown", "§5.6", "an unknown object is 404, also for versions (items 58, 63)", checkObjectUnknown},
	{"object.filtered-empty", "§5.6", "filters excluding every version give an empty envelope (item 58)", checkObjectFilteredEmpty},
	{"versions.resource", "§5.8.1", "Get Object Versions lists every version (items 62, 63)", checkVersions},
	{"versions.unversioned", "§5.8", "an object without modified is versioned by created (items 43, 63)", checkUnversioned},
	// N. filtering
	{"filter.bad-params", "§3.4", "malformed added_after or limit, repeated added_after: 400 (items 64, 65, 72)", checkBadParams},
	{"filter.bad-next", "App. B", "a next the server did not issue: 400 (items 64, 77)", checkBadNext},
	{"filter.added-after", "§3.4", "added_after compares date_added, strictly later (item 65)", checkAddedAfter},
	{"filter.added-after-precision", "§3.4", "added_after in any RFC 3339 precision (item 65)", checkAddedAfterPrecision},
	{"filter.match-id", "§3.4.1", "match[id] with several ids (items 67, 68)", checkMatchID},
	{"filter.match-type", "§3.4.1", "match[type], incl. a STIX type without objects (item 69)", checkMatchType},
	{"filter.match-and", "§3.4.1", "different match fields are ANDed (item 67)", checkMatchAnd},
	{"filter.match-repeated", "§3.4.1", "a repeated match field is 400 (item 67)", checkMatchRepeated},
	{"filter.match-version", "§3.4.1", "match[version] last (default), first, all, exact, lists (item 70)", checkMatchVersion},
	{"filter.version-all-combined", "§3.4.1", "match[version] with all plus other values is 400 (item 70)", checkVersionAllCombined},
	{"filter.match-spec-version", "§3.4.1", "match[spec_version] (item 71)", checkMatchSpecVersion},
	{"filter.limit", "§3.4.1", "limit bounds objects, manifest, versions; more is set (items 72, 74)", checkLimit},
	{"filter.limit-large", "§3.4.1", "a limit above the server's cap is capped, not refused (item 82)", checkLimitLarge},
	// O. pagination
	{"pagination.next", "§3.5", "paging objects by next: union equals the unpaged set, no duplicates (items 73–75, 78)", checkPaginationNext},
	{"pagination.manifest-next", "§3.5", "paging the manifest by next (item 45)", checkPaginationManifest},
	{"pagination.added-after-header", "§3.5", "paging by added_after = X-TAXII-Date-Added-Last (item 75)", checkPaginationHeader},
	{"pagination.bulk-identical", "§3.5", "objects added by one request page losslessly one by one, both ways (item 80)", checkPaginationBulk},
	{"pagination.versions", "§5.8", "paging versions by next and by the header (items 62, 72)", checkPaginationVersions},
	{"pagination.object", "§5.6", "paging one object's versions by next and by the header (item 57)", checkPaginationObject},
	{"pagination.next-scope", "App. B", "a next presented with other filters reveals nothing outside them (item 77)", checkNextScope},
	{"pagination.next-repeatable", "§3.5", "the same next twice gives the same page (items 73, 79)", checkNextRepeatable},
	{"pagination.next-after-delete", "§3.5", "deleting objects already seen does not make next skip others (items 76, 79)", checkNextAfterDelete},
	// L. delete (changes the run's objects: keep after the reads)
	{"delete.object", "§5.7", "DELETE: 200 without payload; the object is gone everywhere (items 59, 61)", checkDeleteObject},
	{"delete.version", "§5.7", "DELETE with match[version] removes only that version (item 59)", checkDeleteVersion},
	// R, T. errors and methods
	{"errors.body", "§3.6.1", "error responses are TAXII error messages (item 87)", checkErrorBodies},
	{"http.method-not-allowed", "RFC 9110", "an unsupported method is 405 with Allow", checkMethodNotAllowed},
	// over every response of the run
	{"content-type.success", "§3.1", "every success response has Content-Type application/taxii+json;version=2.1 (item 13)", checkContentTypeSuccess},
	{"content-type.error", "§3.1", "every error response has Content-Type application/taxii+json;version=2.1 (item 13)", checkContentTypeError},
	{"json.bodies", "§1.6.7", "every success body is UTF-8 JSON without empty lists (items 15, 89)", checkBodies},
}

// CheckIDs returns the ids of every check, in run order.
func CheckIDs() []string {
	ids := make([]string, len(checks))
	for i, c := range checks {
		ids[i] = c.id
	}
	return ids
}
