" Vim syntax file
" Language: CMSL (the input language of ftc)
" Filenames: *.cmsl

if exists("b:current_syntax")
  finish
endif

syn keyword cmslConditional if else
syn keyword cmslRepeat      while for every
syn keyword cmslStatement   break continue return new
syn keyword cmslException   try catch raise assert
syn keyword cmslStorage     public private attribute relation class
syn keyword cmslContract    requires ensures invariant
syn keyword cmslReplication server invoke accept timeout priority replicas tolerance tolerate hosts disjoint durable model correct crash byzantine
syn keyword cmslType        void int real float double boolean bool string list map host future
syn keyword cmslConstant    true false null this

syn match   cmslNumber   "\<[0-9][0-9_]*\>"
syn match   cmslFloat    "\<[0-9][0-9_]*\.[0-9][0-9_]*\([eE][+-]\=[0-9]\+\)\=\>"
syn match   cmslFloat    "\<[0-9][0-9_]*[eE][+-]\=[0-9]\+\>"
syn match   cmslEscape   contained "\\[nt\\\"]"
syn region  cmslString   start=+"+ skip=+\\\\\|\\"+ end=+"+ end=+$+ contains=cmslEscape
syn keyword cmslTodo     contained TODO FIXME XXX
syn match   cmslComment  "//.*$" contains=cmslTodo
syn region  cmslComment  start="/\*" end="\*/" contains=cmslTodo
syn match   cmslOperator "->\|::"

hi def link cmslConditional Conditional
hi def link cmslRepeat      Repeat
hi def link cmslStatement   Statement
hi def link cmslException   Exception
hi def link cmslStorage     StorageClass
hi def link cmslContract    PreProc
hi def link cmslReplication Keyword
hi def link cmslType        Type
hi def link cmslConstant    Constant
hi def link cmslNumber      Number
hi def link cmslFloat       Float
hi def link cmslEscape      SpecialChar
hi def link cmslString      String
hi def link cmslTodo        Todo
hi def link cmslComment     Comment
hi def link cmslOperator    Operator

let b:current_syntax = "cmsl"
