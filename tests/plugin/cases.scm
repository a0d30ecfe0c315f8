; cases.scm — the plug-in's procedures, run NONINTERACTIVE from Script-Fu
; (gimp-console-3.0 --batch-interpreter=plug-in-script-fu-eval). Run by
; tests/plugin/in-root.sh, which defines `dir` (the work folder, holding
; demo/ = the demo model) before loading this file, then compares the PNGs
; written here with `paldiff generate`'s.
;
; Every case prints one line "PLUGINTEST ok NAME" or "PLUGINTEST FAIL NAME: why"
; (gimp-message goes to stderr in batch mode); a Scheme error inside a case
; is caught and reported as its failure, and the next case runs.

(define model (string-append dir "/demo"))
(define (path name) (string-append dir "/" name))

(define (report ok name why)
  (gimp-message (string-append "PLUGINTEST " (if ok "ok " "FAIL ") name (if ok "" (string-append ": " why)))))

; Runs (thunk) as case NAME: it returns #t, or a string saying what is wrong.
(define (run-case name thunk)
  (let ((r (catch "a Scheme or PDB error (see above)" (thunk))))
    (if (eq? r #t) (report #t name "") (report #f name r))))

(define (layers img) (vector->list (car (gimp-image-get-layers img))))
(define (layer-count img) (length (layers img)))
(define (top img) (car (layers img)))
(define (name-of item) (car (gimp-item-get-name item)))
(define (width-of d) (car (gimp-drawable-get-width d)))
(define (height-of d) (car (gimp-drawable-get-height d)))
(define (offsets-of d) (gimp-drawable-get-offsets d))

(define (contains? s sub)
  (let loop ((i 0))
    (cond ((> (+ i (string-length sub)) (string-length s)) #f)
          ((string=? (substring s i (+ i (string-length sub))) sub) #t)
          (else (loop (+ i 1))))))

; A new RGB (or GRAY) image with one opaque layer filled with the background color.
(define (new-image w h type)
  (let* ((img (car (gimp-image-new w h type)))
         (layer (car (gimp-layer-new img "Background" w h (if (= type RGB) RGB-IMAGE GRAY-IMAGE)
                                     100 LAYER-MODE-NORMAL))))
    (gimp-image-insert-layer img layer 0 0)
    (gimp-drawable-fill layer FILL-BACKGROUND)
    img))

(define (fill-rect img layer x y w h color)
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE x y w h)
  (gimp-context-set-foreground color)
  (gimp-drawable-edit-fill layer FILL-FOREGROUND)
  (gimp-selection-none img))

; Saves one layer alone, at its own size, as a PNG.
(define (export-layer layer file)
  (let* ((img (car (gimp-image-new (width-of layer) (height-of layer) RGB)))
         (copy (car (gimp-layer-new-from-drawable layer img))))
    (gimp-image-insert-layer img copy 0 0)
    (gimp-layer-set-offsets copy 0 0)
    (gimp-file-save RUN-NONINTERACTIVE img file)
    (gimp-image-delete img)))

(define (parasite-text item)
  (let ((p (car (gimp-item-get-parasite item "paldiff-parameters"))))
    ; a parasite is (name flags data); data is a string or a byte vector
    (if (string? (caddr p)) (caddr p) "")))

(gimp-context-set-background '(255 255 255))

; ---- inputs the CLI reads too ---------------------------------------------------

; init.png: a 64×64 picture of flat shapes
(let* ((img (new-image 64 64 RGB)) (l (top img)))
  (fill-rect img l 0 0 64 32 '(40 90 200))
  (fill-rect img l 8 36 24 20 '(220 60 30))
  (fill-rect img l 40 20 18 40 '(30 160 70))
  (gimp-file-save RUN-NONINTERACTIVE img (path "init.png"))
  (gimp-image-delete img))

; mask.png: the inpaint case's selection (a hard rectangle), white on black
(define sel-x 16) (define sel-y 12) (define sel-w 32) (define sel-h 24)
(gimp-context-set-background '(0 0 0))
(let* ((img (new-image 64 64 GRAY)) (l (top img)))
  (fill-rect img l sel-x sel-y sel-w sel-h '(255 255 255))
  (gimp-file-save RUN-NONINTERACTIVE img (path "mask.png"))
  (gimp-image-delete img))
(gimp-context-set-background '(255 255 255))

; ---- txt2img ----------------------------------------------------------------------

(run-case "txt2img"
  (lambda ()
    (let ((img (new-image 64 64 RGB)))
      (plug-in-paldiff-txt2img #:run-mode RUN-NONINTERACTIVE #:image img
                               #:prompt "a red fox in the snow" #:model model
                               #:steps 4 #:guidance 7.5 #:seed 7 #:scheduler "euler")
      (let* ((l (top img)) (result
             (cond ((not (= (layer-count img) 2)) "expected a new layer")
                   ((not (contains? (name-of l) "seed 7")) (string-append "layer name without the seed: " (name-of l)))
                   ((not (and (= (width-of l) 64) (= (height-of l) 64))) "layer not 64x64")
                   ((not (contains? (parasite-text l) "Seed: 7")) "no paldiff-parameters parasite with the seed")
                   (else #t))))
        (export-layer l (path "txt2img.png"))
        (gimp-image-delete img)
        result))))

; at the selection's bounds: generated at 40×24 there
(run-case "txt2img-selection"
  (lambda ()
    (let ((img (new-image 64 64 RGB)))
      (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 8 16 40 24)
      (plug-in-paldiff-txt2img #:run-mode RUN-NONINTERACTIVE #:image img
                               #:prompt "a lighthouse" #:model model
                               #:steps 3 #:guidance 5 #:seed 11 #:scheduler "ddim")
      (let* ((l (top img)) (off (offsets-of l)) (result
             (cond ((not (= (layer-count img) 2)) "expected a new layer")
                   ((not (and (= (width-of l) 40) (= (height-of l) 24))) "layer not 40x24")
                   ((not (and (= (car off) 8) (= (cadr off) 16))) "layer not at (8, 16)")
                   (else #t))))
        (export-layer l (path "txt2img-selection.png"))
        (gimp-image-delete img)
        result))))

; model "" is the CLI's default: here the demo model in $XDG_CACHE_HOME
(run-case "txt2img-default-model"
  (lambda ()
    (let ((img (new-image 64 64 RGB)))
      (plug-in-paldiff-txt2img #:run-mode RUN-NONINTERACTIVE #:image img
                               #:prompt "a boat" #:model "" #:steps 2 #:seed 3)
      (let ((text (parasite-text (top img))))
        (export-layer (top img) (path "txt2img-default.png"))
        (gimp-image-delete img)
        ; the demo model's own scheduler is named in the parameters
        (if (contains? text "Sampler: EulerDiscreteScheduler") #t
            (string-append "parameters without the scheduler that ran: " text))))))

; a grayscale image gets a grayscale layer
(run-case "txt2img-gray"
  (lambda ()
    (let ((img (new-image 48 40 GRAY)))
      (plug-in-paldiff-txt2img #:run-mode RUN-NONINTERACTIVE #:image img
                               #:prompt "a cat" #:model model #:steps 2 #:seed 5)
      (let ((result (if (and (= (layer-count img) 2) (= (width-of (top img)) 48)
                             (= (car (gimp-drawable-is-gray (top img))) 1))
                        #t "expected a new 48x40 gray layer")))
        (gimp-image-delete img)
        result))))

; ---- img2img ----------------------------------------------------------------------

(run-case "img2img"
  (lambda ()
    (let* ((img (car (gimp-file-load RUN-NONINTERACTIVE (path "init.png"))))
           (src (top img)))
      (plug-in-paldiff-img2img #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector src)
                               #:prompt "a stormy sea" #:model model
                               #:steps 5 #:guidance 6 #:seed 42 #:scheduler "euler_a" #:strength 0.6)
      (let* ((l (top img)) (result
             (cond ((not (= (layer-count img) 2)) "expected a new layer")
                   ((not (contains? (name-of l) "seed 42")) "layer name without the seed")
                   ((not (contains? (parasite-text l) "Denoising strength: 0.6")) "parasite without the strength")
                   (else #t))))
        (export-layer l (path "img2img.png"))
        (gimp-image-delete img)
        result))))

; ---- inpaint ------------------------------------------------------------------------

(run-case "inpaint"
  (lambda ()
    (let* ((img (car (gimp-file-load RUN-NONINTERACTIVE (path "init.png"))))
           (src (top img)))
      (gimp-image-select-rectangle img CHANNEL-OP-REPLACE sel-x sel-y sel-w sel-h)
      (plug-in-paldiff-inpaint #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector src)
                               #:prompt "a yellow flower" #:model model
                               #:steps 4 #:guidance 7.5 #:seed 9 #:scheduler "dpmpp_2m" #:strength 1.0)
      (let ((result (if (= (layer-count img) 2) #t "expected a new layer")))
        (export-layer (top img) (path "inpaint.png"))
        (gimp-image-delete img)
        result))))

; a feathered selection: the edges blend; its coverage is saved for the check
(run-case "inpaint-feathered"
  (lambda ()
    (let* ((img (car (gimp-file-load RUN-NONINTERACTIVE (path "init.png"))))
           (src (top img)))
      (gimp-image-select-ellipse img CHANNEL-OP-REPLACE 12 10 40 36)
      (gimp-selection-feather img 10)
      (let* ((chan (car (gimp-selection-save img)))
             (mimg (car (gimp-image-new 64 64 GRAY)))
             (ml (car (gimp-layer-new mimg "coverage" 64 64 GRAY-IMAGE 100 LAYER-MODE-NORMAL))))
        (gimp-image-insert-layer mimg ml 0 0)
        (gimp-selection-none img)           ; else only the selected part is copied
        (gimp-edit-copy (vector chan))
        (gimp-floating-sel-anchor (vector-ref (car (gimp-edit-paste ml FALSE)) 0))
        (gimp-file-save RUN-NONINTERACTIVE mimg (path "feather-mask.png"))
        (gimp-image-delete mimg)
        (gimp-image-select-item img CHANNEL-OP-REPLACE chan)
        (gimp-image-remove-channel img chan))
      (plug-in-paldiff-inpaint #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector src)
                               #:prompt "a yellow flower" #:model model
                               #:steps 3 #:seed 21 #:strength 0.9)
      (export-layer (top img) (path "inpaint-feathered.png"))
      (gimp-image-delete img)
      #t)))

; ---- errors: the call fails and the image stays as it was ------------------------------

; Runs (call img) expecting a PDB error; checks the layers did not change.
(define (expect-error name img call)
  (run-case name
    (lambda ()
      (let* ((before (layers img))
             (failed (catch #t (begin (call img) #f))))
        (let ((result (cond ((not failed) "the call succeeded")
                            ((not (equal? before (layers img))) "the image's layers changed")
                            (else #t))))
          (gimp-image-delete img)
          result)))))

(expect-error "error-missing-model" (new-image 64 64 RGB)
  (lambda (img)
    (plug-in-paldiff-txt2img #:run-mode RUN-NONINTERACTIVE #:image img
                             #:prompt "x" #:model "/nonexistent/model" #:steps 2 #:seed 1)))

; An engine error (here: a PNG given as the model) comes with its kind's sentence.
(expect-error "error-not-a-model" (new-image 64 64 RGB)
  (lambda (img)
    (plug-in-paldiff-txt2img #:run-mode RUN-NONINTERACTIVE #:image img
                             #:prompt "x" #:model (path "init.png") #:steps 2 #:seed 1)))

(expect-error "error-empty-selection" (new-image 64 64 RGB)
  (lambda (img)
    (gimp-selection-none img)
    (plug-in-paldiff-inpaint #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector (top img))
                             #:prompt "x" #:model model #:steps 2 #:seed 1)))

(expect-error "error-indexed" (let ((img (new-image 64 64 RGB)))
                                (gimp-image-convert-indexed img CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE
                                                            16 FALSE FALSE "")
                                img)
  (lambda (img)
    (plug-in-paldiff-txt2img #:run-mode RUN-NONINTERACTIVE #:image img
                             #:prompt "x" #:model model #:steps 2 #:seed 1)))

(gimp-message "PLUGINTEST done")
