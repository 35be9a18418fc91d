#ifndef TSEE_CREADLINE_SHIM_H
#define TSEE_CREADLINE_SHIM_H

#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

/* Swift 6 refuses readline's mutable C globals; these accessors are the only way the REPL touches them. */

static inline void tsee_rl_set_completion(rl_completion_func_t *fn) { rl_attempted_completion_function = fn; }
static inline void tsee_rl_set_completion_append_character(int c) { rl_completion_append_character = c; }
static inline void tsee_rl_set_attempted_completion_over(int v) { rl_attempted_completion_over = v; }
static inline const char *tsee_rl_line_buffer(void) { return rl_line_buffer; }
static inline int tsee_rl_point(void) { return rl_point; }
static inline void tsee_rl_set_basic_word_break_characters(const char *s) { rl_basic_word_break_characters = s; }
static inline void tsee_rl_set_readline_name(const char *s) { rl_readline_name = s; }
static inline void tsee_rl_set_catch_signals(int v) { rl_catch_signals = v; }
static inline void tsee_rl_set_catch_sigwinch(int v) { rl_catch_sigwinch = v; }
static inline void tsee_rl_set_done(int v) { rl_done = v; }
static inline void tsee_history_set_length_limit(int n) { stifle_history(n); }
static inline int tsee_history_length(void) { return history_length; }
static inline void tsee_rl_set_instream(FILE *f) { rl_instream = f; }
static inline void tsee_rl_set_outstream(FILE *f) { rl_outstream = f; }
static inline void tsee_rl_set_completer_quote_characters(const char *s) { rl_completer_quote_characters = s; }
static inline void tsee_rl_set_completion_suppress_append(int v) { rl_completion_suppress_append = v; }
static inline void tsee_rl_set_completion_query_items(int n) { rl_completion_query_items = n; }
static inline int tsee_history_base(void) { return history_base; }
static inline void tsee_rl_set_change_environment(int v) { rl_change_environment = v; }
static inline void tsee_rl_set_point(int p) { rl_point = p; }
static inline void tsee_rl_set_inhibit_completion(int v) { rl_inhibit_completion = v; }

#endif
