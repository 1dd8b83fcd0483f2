package platform

import "net/http"

// apiError is an error answer: {"error": code, "message": msg}.
type apiError struct {
	Status int    `json:"-"`
	Code   string `json:"error"`
	Msg    string `json:"message"`
	cause  error  // logged, never sent
}

func (e *apiError) Error() string { return e.Code + ": " + e.Msg }

func errUnauthorized(code, msg string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: code, Msg: msg}
}

func errBadRequest(code, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Msg: msg}
}
